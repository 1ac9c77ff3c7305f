//! [`FileTokenStore`]: one JSON file, mode 0600, replaced atomically, with an advisory lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;
use crate::token::TokenSet;

use super::store::{BoxFuture, StoreError, StoreLock, TokenStore};

/// A token file larger than this is not a token set.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Stores the token set in a JSON file (the [`TokenSet`] serialization), for CLIs, desktop
/// apps and single-host services.
///
/// - **Private**: the file is created with mode 0600 (and a missing parent directory with
///   0700) — created that way, never `chmod`-ed afterwards, so there is no moment when others
///   can read it. Loading a file that the group or others can read or write is refused with
///   [`StoreError::InsecurePermissions`], which says to run `chmod 600`.
/// - **Atomic**: a save writes a temporary file in the same directory, `fsync`s it, renames it
///   over the old file and `fsync`s the directory. A crash or `SIGKILL` at any point leaves the
///   old file or the new one, never a torn one. (A killed writer may leave a
///   `.<name>.<pid>.<n>.tmp` file behind; it is never read.)
/// - **Locked**: [`TokenStore::lock`] takes an exclusive advisory lock (`flock`) on
///   `<file>.lock`, a separate file so that the rename does not swap the locked inode. Two
///   processes (or two token sources in one process) sharing the file never refresh at the
///   same time. The lock dies with its process, so a crash cannot leave it stuck.
/// - **Typed errors**: a missing file is an empty store (`Ok(None)`; a
///   [`TokenSource`](crate::TokenSource) built on it answers [`StoreError::NoTokens`]); an
///   empty file is [`StoreError::EmptyFile`]; anything unreadable is [`StoreError::Corrupt`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> grantkit::Result<()> {
/// use grantkit::{FileTokenStore, TokenSet, TokenStore};
/// let dir = std::env::temp_dir().join(format!("grantkit-doc-{}", std::process::id()));
/// let store = FileTokenStore::new(dir.join("tokens.json"));
/// store.save(&TokenSet::from_access_token("at")).await?;
/// assert_eq!(store.load().await?.unwrap().access_token().expose(), "at");
/// # #[cfg(unix)] {
/// use std::os::unix::fs::PermissionsExt;
/// let mode = std::fs::metadata(store.path()).unwrap().permissions().mode();
/// assert_eq!(mode & 0o777, 0o600);
/// # }
/// store.delete().await?;
/// assert!(store.load().await?.is_none());
/// # std::fs::remove_dir_all(dir).unwrap();
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct FileTokenStore {
    path: PathBuf,
    lock_path: PathBuf,
}

impl FileTokenStore {
    /// A store in the file at `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        Self {
            path,
            lock_path: lock_path.into(),
        }
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file the advisory lock is taken on: the token file's path plus `.lock`.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    fn io_error(&self, operation: &'static str, e: io::Error) -> StoreError {
        StoreError::Io {
            store: self.describe(),
            operation,
            message: e.to_string(),
        }
    }

    fn read(&self) -> Result<Option<TokenSet>, StoreError> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_error("open", e)),
        };
        // Checked on the open file, so the answer is about the bytes read below.
        let meta = file
            .metadata()
            .map_err(|e| self.io_error("read the metadata of", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(StoreError::InsecurePermissions {
                    path: self.path.clone(),
                    mode,
                });
            }
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(self.corrupt(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| self.io_error("read", e))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(StoreError::EmptyFile {
                path: self.path.clone(),
            });
        }
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            // Only the position: serde's messages can quote values, and values are secrets.
            self.corrupt(format!(
                "{} at line {} column {}",
                match e.classify() {
                    serde_json::error::Category::Syntax => "invalid JSON",
                    serde_json::error::Category::Eof => "truncated JSON",
                    serde_json::error::Category::Data => "JSON that is not a token set",
                    serde_json::error::Category::Io => "unreadable JSON",
                },
                e.line(),
                e.column()
            ))
        })
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            store: self.describe(),
            reason,
        }
    }

    fn write(&self, bytes: &[u8]) -> Result<(), StoreError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = self.dir();
        create_private_dir(dir).map_err(|e| self.io_error("create the directory of", e))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tokens".to_owned());
        let tmp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = private_file_options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| self.io_error("create a temporary file next to", e))?;
        let written = (|| {
            file.write_all(bytes)
                .map_err(|e| self.io_error("write a temporary file next to", e))?;
            file.sync_all()
                .map_err(|e| self.io_error("fsync a temporary file next to", e))?;
            drop(file);
            fs::rename(&tmp, &self.path).map_err(|e| self.io_error("rename a temporary file to", e))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        sync_dir(dir).map_err(|e| self.io_error("fsync the directory of", e))
    }

    fn remove(&self) -> Result<(), StoreError> {
        match fs::remove_file(&self.path) {
            Ok(()) => sync_dir(self.dir()).map_err(|e| self.io_error("fsync the directory of", e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io_error("delete", e)),
        }
    }

    fn take_lock(&self) -> Result<File, StoreError> {
        create_private_dir(self.dir()).map_err(|e| self.io_error("create the directory of", e))?;
        let file = private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lock_path)
            .map_err(|e| self.io_error("open the lock file of", e))?;
        file.lock().map_err(|e| self.io_error("lock", e))?;
        Ok(file)
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    store: &FileTokenStore,
    work: impl FnOnce(FileTokenStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    let owned = store.clone();
    tokio::task::spawn_blocking(move || work(owned))
        .await
        .map_err(|e| StoreError::Io {
            store: store.describe(),
            operation: "run the file operation on",
            message: e.to_string(),
        })?
        .map_err(Into::into)
}

impl TokenStore for FileTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        Box::pin(blocking(self, |store| store.read()))
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut bytes = serde_json::to_vec_pretty(tokens).map_err(|e| {
                self.corrupt(format!(
                    "cannot serialize the token set ({:?})",
                    e.classify()
                ))
            })?;
            bytes.push(b'\n');
            blocking(self, move |store| store.write(&bytes)).await
        })
    }

    fn delete(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(blocking(self, |store| store.remove()))
    }

    fn lock(&self) -> BoxFuture<'_, Result<StoreLock>> {
        Box::pin(async move {
            let file = blocking(self, |store| store.take_lock()).await?;
            // Closing the file releases the lock.
            Ok(StoreLock::on_drop(file))
        })
    }

    fn describe(&self) -> String {
        format!("the token file {}", self.path.display())
    }
}

fn private_file_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    #[allow(unused_mut)]
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("grantkit-file-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn tokens(at: &str) -> TokenSet {
        TokenSet::from_response(
            format!(r#"{{"access_token":"{at}","refresh_token":"rt-{at}","expires_in":3600}}"#)
                .as_bytes(),
            std::time::SystemTime::now(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn files_are_created_private_and_round_trip() {
        let dir = temp_dir("private").join("nested");
        let store = FileTokenStore::new(dir.join("tokens.json"));
        assert_eq!(
            store.load().await.unwrap(),
            None,
            "missing file = empty store"
        );
        store.save(&tokens("a")).await.unwrap();
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(&dir), 0o700, "a created directory is private too");
        let lock = store.lock().await.unwrap();
        assert_eq!(mode(store.lock_path()), 0o600);
        lock.release().await.unwrap();
        store.save(&tokens("b")).await.unwrap();
        let back = store.load().await.unwrap().unwrap();
        assert_eq!(back, tokens("b"));
        assert_eq!(mode(store.path()), 0o600);
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        store.delete().await.unwrap();
        store.delete().await.unwrap();
        assert_eq!(store.load().await.unwrap(), None);
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn empty_corrupt_and_readable_files_are_typed_errors() {
        let dir = temp_dir("errors");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokens.json");
        let store = FileTokenStore::new(&path);
        let write = |content: &str, mode: u32| {
            fs::write(&path, content).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        };

        write("", 0o600);
        let e = store.load().await.unwrap_err();
        assert!(
            matches!(e, crate::Error::Store(StoreError::EmptyFile { .. })),
            "{e:?}"
        );

        write(r#"{"access_token":"SECRET-VALUE","refresh_"#, 0o600);
        let e = store.load().await.unwrap_err();
        assert!(
            matches!(&e, crate::Error::Store(StoreError::Corrupt { reason, .. }) if reason.contains("truncated")),
            "{e:?}"
        );
        write(
            r#"{"access_token":"SECRET-VALUE","expires_at":"SECRET-VALUE"}"#,
            0o600,
        );
        let e = store.load().await.unwrap_err();
        assert!(
            matches!(e, crate::Error::Store(StoreError::Corrupt { .. })),
            "{e:?}"
        );
        assert!(!format!("{e} {e:?}").contains("SECRET"), "{e}");

        write(&serde_json::to_string(&tokens("ok")).unwrap(), 0o644);
        let e = store.load().await.unwrap_err();
        assert!(
            matches!(
                e,
                crate::Error::Store(StoreError::InsecurePermissions { mode: 0o644, .. })
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("chmod 600"), "{e}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(store.load().await.is_err(), "group-readable is refused too");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(store.load().await.unwrap(), Some(tokens("ok")));

        // A save replaces a readable file with a private one.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        store.save(&tokens("new")).await.unwrap();
        assert_eq!(mode(&path), 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn the_lock_excludes_a_second_holder_until_released() {
        let dir = temp_dir("lock");
        let path = dir.join("tokens.json");
        let (a, b) = (FileTokenStore::new(&path), FileTokenStore::new(&path));
        let held = a.lock().await.unwrap();
        let waiting = tokio::spawn(async move { b.lock().await.map(|_| ()) });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "the second lock waits");
        held.release().await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the second lock is granted after release")
            .unwrap()
            .unwrap();
        fs::remove_dir_all(dir).unwrap();
    }
}
