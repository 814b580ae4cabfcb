//! Embeds `web/` into the crate: every file with its content type, its
//! gzip form, and one version string (a hash of every path and byte) that
//! names the immutable asset folder `/assets/<version>/`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let web = root.join("web");
    println!("cargo:rerun-if-changed=web");
    let mut files = Vec::new();
    collect(&web, &web, &mut files);
    files.sort();

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir"));
    let mut hasher = Sha256::new();
    let mut table = String::from("&[\n");
    for rel in &files {
        let bytes = std::fs::read(web.join(rel)).expect("read asset");
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update(&bytes);
        let gz_name = format!("{}.gz", rel.replace(['/', '.'], "_"));
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("gzip");
        std::fs::write(out.join(&gz_name), encoder.finish().expect("gzip")).expect("write gz");
        let abs = web.join(rel);
        writeln!(
            table,
            "    Asset {{ path: {rel:?}, body: include_bytes!({abs:?}), gzip: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{gz_name}\")) }},",
            abs = abs.display().to_string(),
        )
        .expect("write");
    }
    table.push(']');
    let digest = hasher.finalize();
    let version: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(out.join("assets.rs"), table).expect("write table");
    std::fs::write(out.join("version.txt"), version).expect("write version");
}

fn collect(base: &Path, dir: &Path, files: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read web/")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(base, &path, files);
        } else {
            let rel = path.strip_prefix(base).expect("under web/");
            files.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}
