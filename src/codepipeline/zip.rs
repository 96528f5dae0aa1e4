//! The zip files CodePipeline keeps artifacts in: read (stored or deflated entries, as
//! CodePipeline, CodeBuild and `zip` write them) into a directory, with the checks a file from
//! elsewhere needs (no path outside the directory, no link, sizes and CRCs as stated, bounded
//! in total), and written from a directory, deflated, with fixed times so the same files make
//! the same bytes.

use std::path::{Component, Path, PathBuf};

/// Entries of one artifact, at most.
const MAX_ENTRIES: usize = 10_000;
/// Bytes of one artifact once extracted, at most: task definitions, manifests and appspecs are
/// kilobytes; this bounds a zip bomb.
pub const MAX_EXTRACTED: u64 = 256 * 1024 * 1024;

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// One file of the archive, as its central directory states it.
struct Entry {
    name: String,
    method: u16,
    crc: u32,
    compressed: usize,
    size: u64,
    offset: usize,
    /// Unix mode bits, when the archive was made on Unix.
    mode: Option<u32>,
}

/// The central directory's entries.
fn entries(zip: &[u8]) -> Result<Vec<Entry>, String> {
    let corrupt = |what: &str| format!("not a readable zip file: {what}");
    let search_from = zip.len().saturating_sub(22 + 65_535);
    let end = (search_from..=zip.len().saturating_sub(22))
        .rev()
        .find(|&at| u32_at(zip, at) == Some(END))
        .ok_or_else(|| corrupt("no end of central directory"))?;
    let count = usize::from(u16_at(zip, end + 10).ok_or_else(|| corrupt("short end record"))?);
    let mut at = u32_at(zip, end + 16).ok_or_else(|| corrupt("short end record"))? as usize;
    if count > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} entries"));
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let field = |offset: usize| u32_at(zip, at + offset).ok_or_else(|| corrupt("short entry"));
        let short = |offset: usize| u16_at(zip, at + offset).ok_or_else(|| corrupt("short entry"));
        if field(0)? != CENTRAL {
            return Err(corrupt("bad central directory entry"));
        }
        let (made_by, flags, method) = (short(4)?, short(8)?, short(10)?);
        let (crc, compressed, size) = (field(16)?, field(20)?, field(24)?);
        let (name_len, extra_len, comment_len) = (
            usize::from(short(28)?),
            usize::from(short(30)?),
            usize::from(short(32)?),
        );
        let (external, offset) = (field(38)?, field(42)?);
        if flags & 1 != 0 {
            return Err("an entry is encrypted".to_owned());
        }
        if compressed == u32::MAX || size == u32::MAX || offset == u32::MAX {
            return Err("zip64 archives are not supported".to_owned());
        }
        let name = zip
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| corrupt("short entry name"))?;
        entries.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            method,
            crc,
            compressed: compressed as usize,
            size: u64::from(size),
            offset: offset as usize,
            mode: (made_by >> 8 == 3).then_some(external >> 16),
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(entries)
}

/// The relative path an entry names, if it stays inside the directory.
fn safe_path(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if name.contains('\\') || name.contains('\0') {
        return None;
    }
    let mut clean = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!clean.as_os_str().is_empty()).then_some(clean)
}

/// The bytes of one entry, inflated and checked.
fn content(zip: &[u8], entry: &Entry) -> Result<Vec<u8>, String> {
    let corrupt = || format!("`{}`: not a readable zip entry", entry.name);
    if u32_at(zip, entry.offset) != Some(LOCAL) {
        return Err(corrupt());
    }
    let name_len = usize::from(u16_at(zip, entry.offset + 26).ok_or_else(corrupt)?);
    let extra_len = usize::from(u16_at(zip, entry.offset + 28).ok_or_else(corrupt)?);
    let start = entry.offset + 30 + name_len + extra_len;
    let data = zip
        .get(start..start + entry.compressed)
        .ok_or_else(corrupt)?;
    let size = usize::try_from(entry.size).map_err(|_| corrupt())?;
    let bytes = match entry.method {
        0 => data.to_vec(),
        8 => miniz_oxide::inflate::decompress_to_vec_with_limit(data, size).map_err(|_| {
            format!(
                "`{}`: cannot be inflated, or is larger than it says",
                entry.name
            )
        })?,
        other => {
            return Err(format!(
                "`{}`: compression method {other} is not supported (stored or deflated only)",
                entry.name
            ));
        }
    };
    if bytes.len() != size || crc32fast::hash(&bytes) != entry.crc {
        return Err(format!("`{}`: size or CRC does not match", entry.name));
    }
    Ok(bytes)
}

/// Extracts `zip` into `into`; the files written, relative to it.
pub fn extract(zip: &[u8], into: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = entries(zip)?;
    let total: u64 = entries.iter().map(|e| e.size).sum();
    if total > MAX_EXTRACTED {
        return Err(format!(
            "it would extract to {total} bytes, more than the {MAX_EXTRACTED} allowed"
        ));
    }
    let mut written = Vec::new();
    for entry in &entries {
        let path = safe_path(&entry.name)
            .ok_or_else(|| format!("entry `{}` names a path outside the artifact", entry.name))?;
        if entry.mode.is_some_and(|mode| mode & 0o170_000 == 0o120_000) {
            return Err(format!("entry `{}` is a symbolic link", entry.name));
        }
        let target = into.join(&path);
        if entry.name.ends_with('/') {
            std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
            continue;
        }
        let bytes = content(zip, entry)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&target, bytes).map_err(|e| format!("{}: {e}", target.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path, under: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut children: Vec<_> =
        std::fs::read_dir(dir.join(under))?.collect::<Result<Vec<_>, _>>()?;
    children.sort_by_key(std::fs::DirEntry::file_name);
    for child in children {
        let relative = under.join(child.file_name());
        if child.file_type()?.is_dir() {
            files(dir, &relative, out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

/// A zip of every file under `dir` (names relative, `/`-separated), deflated, dated
/// 1980-01-01.
pub fn create(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut paths = Vec::new();
    files(dir, Path::new(""), &mut paths)?;
    let mut zip = Vec::new();
    let mut central = Vec::new();
    for path in &paths {
        let bytes = std::fs::read(dir.join(path))?;
        let name: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let name = name.join("/");
        let packed = miniz_oxide::deflate::compress_to_vec(&bytes, 6);
        let too_big = || std::io::Error::other(format!("`{name}` is too large for a zip entry"));
        let crc = crc32fast::hash(&bytes);
        let size = u32::try_from(bytes.len()).map_err(|_| too_big())?;
        let compressed = u32::try_from(packed.len()).map_err(|_| too_big())?;
        let name_len = u16::try_from(name.len()).map_err(|_| too_big())?;
        let offset = u32::try_from(zip.len()).map_err(|_| too_big())?;
        // version 2.0, no flags, deflated, 00:00 1980-01-01
        let common = |out: &mut Vec<u8>| {
            for v in [8u16, 0, (1 << 5) | 1] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for v in [crc, compressed, size] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&name_len.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
        };
        zip.extend_from_slice(&LOCAL.to_le_bytes());
        zip.extend_from_slice(&20u16.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        common(&mut zip);
        zip.extend_from_slice(name.as_bytes());
        zip.extend_from_slice(&packed);
        central.extend_from_slice(&CENTRAL.to_le_bytes());
        central.extend_from_slice(&((3u16 << 8) | 0x14).to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        common(&mut central);
        // comment length, disk, internal attributes, external (a regular file, rw-r--r--)
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(paths.len()).map_err(|_| std::io::Error::other("too many files"))?;
    let central_at = u32::try_from(zip.len()).map_err(|_| std::io::Error::other("too large"))?;
    let central_len =
        u32::try_from(central.len()).map_err(|_| std::io::Error::other("too large"))?;
    zip.extend_from_slice(&central);
    zip.extend_from_slice(&END.to_le_bytes());
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&count.to_le_bytes());
    zip.extend_from_slice(&count.to_le_bytes());
    zip.extend_from_slice(&central_len.to_le_bytes());
    zip.extend_from_slice(&central_at.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    Ok(zip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zip_made_here_extracts_to_the_same_files() {
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("sub")).unwrap();
        std::fs::write(from.path().join("taskdef.json"), "{\"family\":\"web\"}").unwrap();
        std::fs::write(
            from.path().join("sub/appspec.yaml"),
            "version: 0.0\n".repeat(100),
        )
        .unwrap();
        let zip = create(from.path()).unwrap();
        assert_eq!(
            zip,
            create(from.path()).unwrap(),
            "the same files, the same bytes"
        );
        let to = tempfile::tempdir().unwrap();
        let written = extract(&zip, to.path()).unwrap();
        assert_eq!(
            written,
            vec![
                PathBuf::from("sub/appspec.yaml"),
                PathBuf::from("taskdef.json")
            ]
        );
        assert_eq!(
            std::fs::read_to_string(to.path().join("sub/appspec.yaml")).unwrap(),
            "version: 0.0\n".repeat(100)
        );
    }

    #[test]
    fn paths_outside_the_directory_are_refused() {
        for name in ["../evil", "/etc/passwd", "a/../../b", "..\\x"] {
            assert_eq!(safe_path(name), None, "{name}");
        }
        assert_eq!(safe_path("./a/b.json"), Some(PathBuf::from("a/b.json")));
    }

    #[test]
    fn a_damaged_or_lying_zip_is_refused() {
        let from = tempfile::tempdir().unwrap();
        std::fs::write(from.path().join("a.json"), "x".repeat(1000)).unwrap();
        let mut zip = create(from.path()).unwrap();
        let to = tempfile::tempdir().unwrap();
        assert!(extract(b"not a zip", to.path()).is_err());
        // The stated size (central directory, offset 24 of the entry) smaller than the data.
        let central = zip.len() - 22 - 46 - "a.json".len();
        zip[central + 24..central + 28].copy_from_slice(&10u32.to_le_bytes());
        let error = extract(&zip, to.path()).unwrap_err();
        assert!(error.contains("a.json"), "{error}");
    }
}
