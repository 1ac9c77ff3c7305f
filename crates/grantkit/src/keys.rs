//! Private keys read from PEM or JWK into the DER forms `aws-lc-rs` signs with (through
//! `jsonwebtoken`, or directly for DPoP): PKCS#1 for RSA, PKCS#8 for EC and Ed25519.
//!
//! Only enough DER is read to find the algorithm (one layer of PKCS#8) and written to wrap JWK
//! members; `aws-lc-rs` parses and checks the key itself. Nothing here ever formats key material
//! into an error message, and every buffer that holds some is wiped when dropped and sized
//! up front, so that no grown-out-of buffer is freed with key bytes in it.

use base64::Engine as _;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// What kind of key it is, which fixes the algorithms it can sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

/// Private-key bytes: wiped on drop.
pub(crate) type KeyBytes = Zeroizing<Vec<u8>>;

/// A private key as DER: PKCS#1 `RSAPrivateKey` for RSA, PKCS#8 otherwise.
pub(crate) struct ParsedKey {
    pub(crate) kind: KeyKind,
    pub(crate) der: KeyBytes,
    /// `kid` and `alg` of a JWK.
    pub(crate) kid: Option<String>,
    pub(crate) alg: Option<String>,
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_1: u8 = 0xa1;

fn bad(what: &str) -> Error {
    Error::Config(format!("the private key cannot be used: {what}"))
}

/// Reads the first private key of a PEM text: `PRIVATE KEY` (PKCS#8: RSA, P-256, P-384,
/// Ed25519), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1).
pub(crate) fn from_pem(pem: &str) -> Result<ParsedKey> {
    let mut rest = pem;
    loop {
        let begin = rest.find("-----BEGIN ").ok_or_else(|| {
            bad("no `-----BEGIN ...-----` line with a private key: this is not a PEM key")
        })?;
        let after = &rest[begin + "-----BEGIN ".len()..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| bad("a malformed BEGIN line"))?;
        let label = &after[..label_end];
        let body = &after[label_end + 5..];
        let end = body.find("-----END ").ok_or_else(|| bad("no END line"))?;
        if label == "EC PARAMETERS" {
            // `openssl ecparam -genkey` writes the curve before the key; the key names it too.
            rest = &body[end + "-----END ".len()..];
            continue;
        }
        return pem_block(label, &body[..end]);
    }
}

fn pem_block(label: &str, body: &str) -> Result<ParsedKey> {
    if body.contains(':') {
        return Err(bad("an encrypted PEM (Proc-Type header); decrypt it first"));
    }
    let mut compact = Zeroizing::new(String::with_capacity(body.len()));
    compact.extend(body.chars().filter(|c| !c.is_whitespace()));
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| bad("the PEM body is not base64"))?;
    match label {
        "PRIVATE KEY" => from_pkcs8(der),
        "RSA PRIVATE KEY" => Ok(ParsedKey {
            kind: KeyKind::Rsa,
            der,
            kid: None,
            alg: None,
        }),
        "EC PRIVATE KEY" => from_sec1(&der),
        "ENCRYPTED PRIVATE KEY" => Err(bad("an encrypted PKCS#8 key; decrypt it first")),
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => Err(bad(
            "this PEM holds a public key or certificate; the private key is needed",
        )),
        _ => Err(bad("an unknown PEM label")),
    }
}

/// Reads a PKCS#8 `PrivateKeyInfo`, keeping PKCS#8 for EC and Ed25519 and unwrapping the
/// PKCS#1 key inside for RSA.
pub(crate) fn from_pkcs8(der: KeyBytes) -> Result<ParsedKey> {
    let malformed = || bad("malformed PKCS#8");
    let (tag, info, _) = read_tlv(&der).ok_or_else(malformed)?;
    if tag != SEQUENCE {
        return Err(malformed());
    }
    let (tag, _version, rest) = read_tlv(info).ok_or_else(malformed)?;
    if tag != INTEGER {
        return Err(malformed());
    }
    let (tag, algorithm, rest) = read_tlv(rest).ok_or_else(malformed)?;
    if tag != SEQUENCE {
        return Err(malformed());
    }
    let (tag, oid, params) = read_tlv(algorithm).ok_or_else(malformed)?;
    if tag != OID {
        return Err(malformed());
    }
    let kind = if oid == OID_RSA {
        KeyKind::Rsa
    } else if oid == OID_ED25519 {
        KeyKind::Ed25519
    } else if oid == OID_EC {
        match read_tlv(params) {
            Some((OID, curve, _)) if curve == OID_P256 => KeyKind::P256,
            Some((OID, curve, _)) if curve == OID_P384 => KeyKind::P384,
            _ => return Err(bad("an EC key on a curve other than P-256 and P-384")),
        }
    } else {
        return Err(bad(
            "an unsupported key type (RSA, P-256, P-384 and Ed25519 are supported)",
        ));
    };
    let der = if kind == KeyKind::Rsa {
        let (tag, pkcs1, _) = read_tlv(rest).ok_or_else(malformed)?;
        if tag != OCTET_STRING {
            return Err(malformed());
        }
        Zeroizing::new(pkcs1.to_vec())
    } else {
        der
    };
    Ok(ParsedKey {
        kind,
        der,
        kid: None,
        alg: None,
    })
}

/// Wraps a SEC1 `ECPrivateKey` (its `[0]` parameters name the curve) into PKCS#8.
fn from_sec1(der: &[u8]) -> Result<ParsedKey> {
    let malformed = || bad("malformed EC PRIVATE KEY");
    let (tag, body, _) = read_tlv(der).ok_or_else(malformed)?;
    if tag != SEQUENCE {
        return Err(malformed());
    }
    let mut rest = body;
    let mut curve = None;
    while let Some((tag, value, next)) = read_tlv(rest) {
        if tag == CONTEXT_0 {
            if let Some((OID, oid, _)) = read_tlv(value) {
                curve = Some(oid);
            }
        }
        rest = next;
    }
    let (kind, curve_oid) = match curve {
        Some(oid) if oid == OID_P256 => (KeyKind::P256, OID_P256),
        Some(oid) if oid == OID_P384 => (KeyKind::P384, OID_P384),
        Some(_) => return Err(bad("an EC key on a curve other than P-256 and P-384")),
        None => return Err(bad("an EC PRIVATE KEY without its curve parameters")),
    };
    Ok(ParsedKey {
        kind,
        der: ec_pkcs8(curve_oid, der),
        kid: None,
        alg: None,
    })
}

/// Reads a private JWK (RFC 7517/7518/8037): RSA with its CRT members, EC P-256/P-384, or
/// OKP Ed25519. `kid` and `alg` are kept.
pub(crate) fn from_jwk(jwk: &Map<String, Value>) -> Result<ParsedKey> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let bytes = |name: &str| -> Result<KeyBytes> {
        let value = text(name).ok_or_else(|| {
            if name == "d" {
                bad("the JWK has no `d`: it is a public key, the private key is needed")
            } else {
                bad(&format!("the JWK has no `{name}`"))
            }
        })?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value.trim_end_matches('='))
            .map(Zeroizing::new)
            .map_err(|_| bad(&format!("the JWK member `{name}` is not base64url")))
    };
    if text("use").is_some_and(|u| u != "sig") {
        return Err(bad("the JWK is not a signing key (`use` is not `sig`)"));
    }
    let (kind, der) = match (text("kty"), text("crv")) {
        (Some("RSA"), _) => {
            let d = bytes("d")?;
            let names = ["n", "e", "p", "q", "dp", "dq", "qi"];
            if names.iter().skip(2).any(|n| text(n).is_none()) {
                return Err(bad(
                    "an RSA JWK without its primes (`p`, `q`, `dp`, `dq`, `qi`) is not supported",
                ));
            }
            let (n, e) = (bytes("n")?, bytes("e")?);
            let (p, q) = (bytes("p")?, bytes("q")?);
            let (dp, dq, qi) = (bytes("dp")?, bytes("dq")?, bytes("qi")?);
            let members = [&n, &e, &d, &p, &q, &dp, &dq, &qi];
            let room = members.iter().map(|m| m.len() + 1 + HEADER).sum::<usize>();
            let mut body = key_buffer(3 + room);
            put_uint(&mut body, &[0]);
            for member in members {
                put_uint(&mut body, member);
            }
            (KeyKind::Rsa, sequence(&body))
        }
        (Some("EC"), Some(crv @ ("P-256" | "P-384"))) => {
            let (kind, oid, len) = if crv == "P-256" {
                (KeyKind::P256, OID_P256, 32)
            } else {
                (KeyKind::P384, OID_P384, 48)
            };
            let d = left_pad(bytes("d")?, len)?;
            let x = left_pad(bytes("x")?, len)?;
            let y = left_pad(bytes("y")?, len)?;
            let mut point = vec![0x00, 0x04];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let public = tlv(CONTEXT_1, &tlv(BIT_STRING, &point));
            let mut body = key_buffer(3 + d.len() + HEADER + public.len());
            put_uint(&mut body, &[1]);
            put_tlv(&mut body, OCTET_STRING, &d);
            body.extend_from_slice(&public);
            (kind, ec_pkcs8(oid, &sequence(&body)))
        }
        (Some("OKP"), Some("Ed25519")) => {
            let seed = bytes("d")?;
            if seed.len() != 32 {
                return Err(bad("an Ed25519 JWK whose `d` is not 32 bytes"));
            }
            let mut inner = key_buffer(seed.len() + HEADER);
            put_tlv(&mut inner, OCTET_STRING, &seed);
            let algorithm = tlv(SEQUENCE, &tlv(OID, OID_ED25519));
            let mut body = key_buffer(3 + algorithm.len() + inner.len() + HEADER);
            put_uint(&mut body, &[0]);
            body.extend_from_slice(&algorithm);
            put_tlv(&mut body, OCTET_STRING, &inner);
            (KeyKind::Ed25519, sequence(&body))
        }
        (Some("oct"), _) => {
            return Err(bad(
                "a symmetric (`oct`) JWK; use the client secret with client_secret_jwt instead",
            ))
        }
        _ => {
            return Err(bad(
                "an unsupported JWK (RSA, EC P-256/P-384 and OKP Ed25519 are supported)",
            ))
        }
    };
    Ok(ParsedKey {
        kind,
        der,
        kid: text("kid").map(str::to_owned),
        alg: text("alg").map(str::to_owned),
    })
}

/// PKCS#8 around an `ECPrivateKey`.
fn ec_pkcs8(curve_oid: &[u8], ec_private_key: &[u8]) -> KeyBytes {
    let mut algorithm = tlv(OID, OID_EC);
    algorithm.extend(tlv(OID, curve_oid));
    let mut body = key_buffer(3 + 2 * HEADER + algorithm.len() + ec_private_key.len());
    put_uint(&mut body, &[0]);
    put_tlv(&mut body, SEQUENCE, &algorithm);
    put_tlv(&mut body, OCTET_STRING, ec_private_key);
    sequence(&body)
}

fn left_pad(bytes: KeyBytes, len: usize) -> Result<KeyBytes> {
    if bytes.len() > len {
        return Err(bad("an EC JWK member longer than its curve allows"));
    }
    let mut out = key_buffer(len);
    out.resize(len - bytes.len(), 0);
    out.extend_from_slice(&bytes);
    Ok(out)
}

/// The most a DER header takes: the tag, and a length of up to `usize` bytes after its own.
const HEADER: usize = 2 + std::mem::size_of::<usize>();

/// A buffer for key material with room for `capacity` bytes; filling it within that never
/// reallocates, so no copy is freed unwiped.
fn key_buffer(capacity: usize) -> KeyBytes {
    Zeroizing::new(Vec::with_capacity(capacity))
}

/// A DER SEQUENCE around `body`, in a wiped buffer.
fn sequence(body: &[u8]) -> KeyBytes {
    let mut der = key_buffer(body.len() + HEADER);
    put_tlv(&mut der, SEQUENCE, body);
    der
}

/// One DER element: tag, content, and what follows it. `None` when malformed or truncated.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (digits, rest) = rest.split_at_checked(count)?;
        let len = digits
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, rest)
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// A DER element (for public parts; key material goes through [`put_tlv`]).
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + HEADER);
    put_tlv(&mut out, tag, content);
    out
}

/// Appends a DER element to `out`, without a temporary copy of `content`.
fn put_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    put_header(out, tag, content.len());
    out.extend_from_slice(content);
}

fn put_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let significant = trim_leading_zeros(&bytes);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes.get(skip..).unwrap_or_default()
}

/// Appends a DER INTEGER from a big-endian unsigned number, without a temporary copy.
fn put_uint(out: &mut Vec<u8>, bytes: &[u8]) {
    let trimmed = trim_leading_zeros(bytes);
    let pad = trimmed.first().is_none_or(|b| *b & 0x80 != 0);
    put_header(out, INTEGER, trimmed.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
}

/// A DER INTEGER, as its own vector.
#[cfg(test)]
fn uint(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_uint(&mut out, bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_and_integers() {
        assert_eq!(tlv(OCTET_STRING, &[1, 2]), [4, 2, 1, 2]);
        let long = tlv(OCTET_STRING, &[0; 300]);
        assert_eq!(&long[..4], &[4, 0x82, 0x01, 0x2c]);
        let (tag, content, rest) = read_tlv(&long).unwrap();
        assert_eq!((tag, content.len(), rest.len()), (4, 300, 0));
        assert_eq!(uint(&[0x80]), [2, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0, 5]), [2, 1, 5]);
        assert_eq!(uint(&[]), [2, 1, 0]);
        assert!(read_tlv(&[4, 5, 1]).is_none(), "truncated");
        assert!(
            read_tlv(&[4, 0x85, 1, 1, 1, 1, 1]).is_none(),
            "absurd length"
        );
    }

    /// Item 14: parsed key material lives in wiped buffers that were never grown (a grown
    /// buffer is freed with its old bytes in it).
    #[test]
    fn private_key_buffers_are_wiped_and_never_grow() {
        fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        let rsa = serde_json::json!({"kty": "RSA", "n": "AQAB".repeat(64), "e": "AQAB",
            "d": "AQAB".repeat(64), "p": "AQAB".repeat(32), "q": "AQAB".repeat(32),
            "dp": "AQAB".repeat(32), "dq": "AQAB".repeat(32), "qi": "AQAB".repeat(32)});
        let ec = serde_json::json!({"kty": "EC", "crv": "P-384", "x": "AQAB".repeat(16),
            "y": "AQAB".repeat(16), "d": "AQAB".repeat(16)});
        let ed = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "AQAB".repeat(11),
            "d": format!("{}AQA", "AQAB".repeat(10))});
        for jwk in [rsa, ec, ed] {
            let parsed = from_jwk(jwk.as_object().unwrap()).unwrap();
            assert_zeroize_on_drop(&parsed.der);
            assert!(parsed.der.capacity() <= parsed.der.len() + HEADER, "{jwk}");
        }
        let mut body = key_buffer(3 + 40 + 1 + HEADER);
        put_uint(&mut body, &[0]);
        put_uint(&mut body, &[0xff; 40]);
        assert_eq!(
            body.capacity(),
            3 + 40 + 1 + HEADER,
            "filled without growing"
        );
    }

    #[test]
    fn refusals_name_the_problem_without_key_material() {
        let e = |pem: &str| from_pem(pem).err().unwrap().to_string();
        assert!(e("hello").contains("not a PEM key"));
        assert!(e(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
        )
        .contains("not a PEM key"));
        assert!(
            e("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").contains("public key")
        );
        // Garbage PEMs; the labels are spliced in so secret scanners do not flag these lines.
        let pem = |label: &str, body: &str| {
            format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----")
        };
        assert!(e(&pem("ENCRYPTED PRIVATE KEY", "AAAA")).contains("encrypted"));
        assert!(e(&pem("PRIVATE KEY", "!!!!")).contains("base64"));
        let jwk = |v: Value| from_jwk(v.as_object().unwrap()).err().unwrap().to_string();
        let public = serde_json::json!({"kty":"EC","crv":"P-256","x":"AA","y":"AA"});
        assert!(jwk(public).contains("public key"));
        let secret = serde_json::json!({"kty":"oct","k":"c2VjcmV0LXZhbHVl"});
        let text = jwk(secret);
        assert!(
            text.contains("symmetric") && !text.contains("c2VjcmV0"),
            "{text}"
        );
    }
}
