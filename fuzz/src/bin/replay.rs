//! Run inputs through the harness without AFL: `hakmem-replay FILE|DIR...`
//! (default: the committed corpus). Exits non-zero (abort) on the first failure.
use std::path::{Path, PathBuf};

fn files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(p).expect("read dir").flatten().map(|e| e.path()).collect();
        v.sort();
        for f in v {
            files(&f, out);
        }
    } else {
        out.push(p.to_path_buf());
    }
}

fn main() {
    let mut args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.is_empty() {
        args.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    }
    let mut all = Vec::new();
    for a in &args {
        files(a, &mut all);
    }
    let t = std::time::Instant::now();
    for f in &all {
        let data = std::fs::read(f).expect("read input");
        eprintln!("{}", f.display());
        hakmem_fuzz::run(&data);
    }
    println!("replayed {} inputs in {:.2?}", all.len(), t.elapsed());
}
