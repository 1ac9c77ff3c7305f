//! [`FileTokenStore`]: one JSON file, mode 0600, replaced atomically, with an advisory lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;
use crate::token::TokenSet;

use super::contract::{BoxFuture, StoreLock, TokenStore};
use crate::error::StoreError;

/// A token file larger than this is not a token set.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Stores the token set in a JSON file (the [`TokenSet`] serialization), for CLIs, desktop
/// apps and single-host services.
///
/// - **Private**: the file is created with mode 0600 (and a missing parent directory with
///   0700) — created that way, never `chmod`-ed afterwards, so there is no moment when others
///   can read it. Loading a file that the group or others can read or write is refused with
///   [`StoreError::InsecurePermissions`], which says to run `chmod 600`.
/// - **Trusted**: the token file and the lock file are opened without following a symbolic
///   link and without blocking on a FIFO, and refused with [`StoreError::UntrustedFile`] when
///   they are not regular files owned by the current user, or when their directory is writable
///   by its group or others or owned by another user (than the current one or root): whoever
///   can plant the file chooses the refresh token, and so the account and where requests go.
///   [`read_private_file`] makes the same checks for other files.
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
/// use grantkit::TokenSet;
/// use grantkit::store::{FileTokenStore, TokenStore};
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
        let Some(bytes) = read_checked(&self.path, MAX_FILE_BYTES, &self.describe())? else {
            return Ok(None);
        };
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
        trust::check_dir(dir, &self.describe())?;
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
        let mut options = private_file_options();
        options.read(true).write(true).create(true).truncate(false);
        let file =
            open_checked(&self.lock_path, &mut options, &self.describe())?.ok_or_else(|| {
                self.io_error("open the lock file of", io::ErrorKind::NotFound.into())
            })?;
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

/// Reads a file holding data that someone else must not be able to plant or swap, with the
/// checks [`FileTokenStore`] makes on its token file: not a symbolic link, a regular file (a FIFO
/// would block the read forever), owned by the current user, mode 0600 or stricter, in a
/// directory that neither its group nor others can write to (and owned by the current user or
/// root). `Ok(None)` when the file does not exist; files larger than `max_bytes` are
/// [`StoreError::Corrupt`].
///
/// For a file that says where secrets are sent — such as a profile recording a token endpoint —
/// these checks keep another local user from redirecting them. On platforms other than Unix
/// only the size is checked.
///
/// ```
/// # fn main() -> Result<(), grantkit::store::StoreError> {
/// let dir = std::env::temp_dir().join(format!("grantkit-doc-private-{}", std::process::id()));
/// let path = dir.join("settings.json");
/// assert_eq!(grantkit::store::read_private_file(&path, 4096)?, None);
/// # Ok(()) }
/// ```
pub fn read_private_file(path: &Path, max_bytes: u64) -> Result<Option<Vec<u8>>, StoreError> {
    read_checked(path, max_bytes, &format!("the file {}", path.display()))
}

/// [`read_private_file`], naming the store as `store` in errors.
fn read_checked(path: &Path, max_bytes: u64, store: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(file) = open_checked(path, OpenOptions::new().read(true), store)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    // One byte more than allowed tells a file that is too large, even one growing meanwhile.
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::Io {
            store: store.to_owned(),
            operation: "read",
            message: e.to_string(),
        })?;
    if bytes.len() as u64 > max_bytes {
        return Err(StoreError::Corrupt {
            store: store.to_owned(),
            reason: format!("larger than {max_bytes} bytes"),
        });
    }
    Ok(Some(bytes))
}

/// Opens `path` with `options` after checking its directory, without following a symbolic
/// link or blocking on a FIFO, and checks what was opened; `Ok(None)` when it does not exist.
/// The checks are made on the open file, so they are about the file that is then used.
fn open_checked(
    path: &Path,
    options: &mut OpenOptions,
    store: &str,
) -> Result<Option<File>, StoreError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    trust::check_dir(dir, store)?;
    trust::harden(options);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(
                trust::symlink_refusal(path).unwrap_or_else(|| StoreError::Io {
                    store: store.to_owned(),
                    operation: "open",
                    message: e.to_string(),
                }),
            )
        }
    };
    trust::check_file(path, &file, store)?;
    Ok(Some(file))
}

#[cfg(unix)]
mod trust {
    use std::fs::{self, File, OpenOptions};
    use std::io;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    use std::path::Path;

    use super::StoreError;

    fn untrusted(path: &Path, reason: String) -> StoreError {
        StoreError::UntrustedFile {
            path: path.to_path_buf(),
            reason,
        }
    }

    /// `O_NOFOLLOW`: a symbolic link at the path fails the open instead of being followed.
    /// `O_NONBLOCK`: opening a FIFO returns at once (then refused as not a regular file);
    /// it changes nothing for regular files.
    pub(super) fn harden(options: &mut OpenOptions) {
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }

    /// The refusal for a path whose open failed, when it failed because the path is a link
    /// (`O_NOFOLLOW` answers `ELOOP` on Linux but `EMLINK` on some BSDs: asked directly).
    pub(super) fn symlink_refusal(path: &Path) -> Option<StoreError> {
        let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        is_link.then(|| {
            untrusted(
                path,
                "it is a symbolic link, which someone could point elsewhere; replace it with the file itself".into(),
            )
        })
    }

    pub(super) fn check_file(path: &Path, file: &File, store: &str) -> Result<(), StoreError> {
        let meta = file.metadata().map_err(|e| io_error(store, e))?;
        if !meta.file_type().is_file() {
            return Err(untrusted(
                path,
                "it is not a regular file (a FIFO, a device or a directory); remove it".into(),
            ));
        }
        let me = effective_uid().map_err(|e| io_error(store, e))?;
        if meta.uid() != me {
            return Err(untrusted(
                path,
                format!(
                    "it is owned by uid {}, not by the current user (uid {me}), so someone else may have planted it; remove it (and authorize again)",
                    meta.uid()
                ),
            ));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::InsecurePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        Ok(())
    }

    /// Refuses a directory in which others could replace the file: writable by its group or
    /// by others (even with the sticky bit: they could create the file first), or owned by
    /// another user than the current one or root. A missing directory holds no file to trust.
    pub(super) fn check_dir(dir: &Path, store: &str) -> Result<(), StoreError> {
        let meta = match fs::metadata(dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(store, e)),
        };
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(untrusted(
                dir,
                format!(
                    "the directory is writable by its group or by others (mode {mode:03o}), so they could replace the files in it; run `chmod 700 {}` or use another directory",
                    dir.display()
                ),
            ));
        }
        let me = effective_uid().map_err(|e| io_error(store, e))?;
        if meta.uid() != me && meta.uid() != 0 {
            return Err(untrusted(
                dir,
                format!(
                    "the directory is owned by uid {}, not by the current user (uid {me}) or root, so its owner could replace the files in it; use a directory of your own",
                    meta.uid()
                ),
            ));
        }
        Ok(())
    }

    fn io_error(store: &str, e: io::Error) -> StoreError {
        StoreError::Io {
            store: store.to_owned(),
            operation: "check the ownership and mode of",
            message: e.to_string(),
        }
    }

    /// The effective uid, without `unsafe`: on Linux the kernel reports it as the owner of
    /// `/proc/self` (root for a non-dumpable process, which then refuses its own files: failing
    /// closed); elsewhere, or without `/proc`, the owner of a file this process creates.
    /// Read each time (a daemon may drop privileges after its first store call).
    fn effective_uid() -> io::Result<u32> {
        proc_status_euid().or_else(|_| uid_of_a_new_file())
    }

    /// The effective uid from `/proc/self/status` (`Uid: real effective saved fs`). Not the owner
    /// of `/proc/self`: that reads as root for a non-dumpable process (one that changed its uid,
    /// or has file capabilities), which would refuse every token file of a service user.
    fn proc_status_euid() -> io::Result<u32> {
        if !cfg!(any(target_os = "linux", target_os = "android")) {
            return Err(io::ErrorKind::Unsupported.into());
        }
        parse_status_euid(&fs::read_to_string("/proc/self/status")?)
            .ok_or_else(|| io::Error::other("no Uid line in /proc/self/status"))
    }

    pub(super) fn parse_status_euid(status: &str) -> Option<u32> {
        let line = status.lines().find(|l| l.starts_with("Uid:"))?;
        line.split_whitespace().nth(2)?.parse().ok()
    }

    fn uid_of_a_new_file() -> io::Result<u32> {
        let path = std::env::temp_dir().join(format!(
            ".grantkit-uid-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        // `create_new` (O_EXCL) never opens a file or link someone else put there.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let uid = file.metadata().map(|m| m.uid());
        let _ = fs::remove_file(&path);
        uid
    }
}

#[cfg(not(unix))]
mod trust {
    use std::fs::{File, OpenOptions};
    use std::path::Path;

    use super::StoreError;

    pub(super) fn harden(_: &mut OpenOptions) {}

    pub(super) fn symlink_refusal(_: &Path) -> Option<StoreError> {
        None
    }

    pub(super) fn check_file(_: &Path, _: &File, _: &str) -> Result<(), StoreError> {
        Ok(())
    }

    pub(super) fn check_dir(_: &Path, _: &str) -> Result<(), StoreError> {
        Ok(())
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

    #[test]
    fn the_effective_uid_comes_from_status_not_from_the_owner_of_proc_self() {
        // A service that dropped from root to uid 999 is non-dumpable: /proc/self then belongs
        // to root, but its status says who it is (real, effective, saved, fs).
        let status = "Name:\tsvc\nUmask:\t0022\nUid:\t0\t999\t999\t999\nGid:\t0\t999\t999\t999\n";
        assert_eq!(trust::parse_status_euid(status), Some(999));
        assert_eq!(trust::parse_status_euid("Name:\tx\n"), None);
        assert_eq!(trust::parse_status_euid("Uid:\t0\tnot-a-number\n"), None);
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

    fn saved_store(name: &str) -> (PathBuf, FileTokenStore) {
        let dir = temp_dir(name);
        let store = FileTokenStore::new(dir.join("tokens.json"));
        store
            .write(&serde_json::to_vec(&tokens("at")).unwrap())
            .unwrap();
        (dir, store)
    }

    fn untrusted(e: StoreError) -> String {
        match e {
            StoreError::UntrustedFile { reason, .. } => reason,
            other => panic!("expected UntrustedFile, got {other:?}"),
        }
    }

    #[test]
    fn a_token_file_planted_by_another_user_is_refused() {
        let (dir, store) = saved_store("owner");
        // Planting a file for another user needs root (CI runs as root: there it must run).
        if let Err(e) = std::os::unix::fs::chown(store.path(), Some(65534), Some(65534)) {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "chown: {e}");
            eprintln!("SKIPPED: planting a file for another user needs root ({e})");
            return;
        }
        let reason = untrusted(store.read().unwrap_err());
        assert!(reason.contains("owned by uid 65534"), "{reason}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_group_or_world_writable_directory_is_refused() {
        let (dir, store) = saved_store("dir-mode");
        for mode in [0o777, 0o770, 0o1777] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            let reason = untrusted(store.read().unwrap_err());
            assert!(reason.contains("chmod 700"), "{reason}");
            assert!(store.take_lock().is_err(), "{mode:o}");
            assert!(store.write(b"{}").is_err(), "{mode:o}");
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(store.read().unwrap().is_some());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_symlinked_lock_file_is_refused() {
        let (dir, store) = saved_store("lock-link");
        let target = dir.join("elsewhere");
        std::os::unix::fs::symlink(&target, store.lock_path()).unwrap();
        let reason = untrusted(store.take_lock().unwrap_err());
        assert!(reason.contains("symbolic link"), "{reason}");
        assert!(!target.exists(), "the link was not followed");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_symlinked_token_file_is_refused() {
        let (dir, store) = saved_store("token-link");
        let real = dir.join("real.json");
        fs::rename(store.path(), &real).unwrap();
        std::os::unix::fs::symlink(&real, store.path()).unwrap();
        let reason = untrusted(store.read().unwrap_err());
        assert!(reason.contains("symbolic link"), "{reason}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_fifo_at_the_token_path_fails_fast() {
        let dir = temp_dir("fifo");
        create_private_dir(&dir).unwrap();
        let store = FileTokenStore::new(dir.join("tokens.json"));
        let made = std::process::Command::new("mkfifo")
            .arg("-m")
            .arg("600")
            .arg(store.path())
            .status()
            .unwrap();
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = store.clone();
        std::thread::spawn(move || tx.send(reader.read()).unwrap());
        let answer = rx.recv_timeout(std::time::Duration::from_secs(5));
        if answer.is_err() {
            // Unblock the reader stuck in open(2) so that the test ends.
            let _ = OpenOptions::new().write(true).open(store.path());
            panic!("reading a FIFO hung");
        }
        let reason = untrusted(answer.unwrap().unwrap_err());
        assert!(reason.contains("not a regular file"), "{reason}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn read_private_file_bounds_the_size_and_makes_the_same_checks() {
        let (dir, _store) = saved_store("read-private");
        let path = dir.join("other.json");
        fs::write(&path, "0123456789").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_private_file(&path, 10).unwrap().unwrap(),
            b"0123456789"
        );
        let e = read_private_file(&path, 9).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_private_file(&path, 10).unwrap_err();
        assert!(matches!(e, StoreError::InsecurePermissions { .. }), "{e:?}");
        assert_eq!(read_private_file(&dir.join("missing"), 10).unwrap(), None);
        fs::remove_dir_all(dir).unwrap();
    }
}
