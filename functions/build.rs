//! Build script of every function crate (`build = "../build.rs"`): release binaries for
//! Linux are linked as position-dependent executables (`-no-pie`). A PIE carries a dynamic
//! relocation for every pointer in its static data, about 0.5 MB of each of our binaries
//! (issue 13: each function under 8 MiB); a fixed load address gives that up, along with
//! ASLR for the executable's own image (its libraries, heap and stack stay randomised, and a
//! Lambda sandbox runs one function). The code itself is unchanged: it is compiled PIC and
//! the linker resolves its addresses once. gcc, clang and `zig cc` (cargo lambda's cross
//! linker) all take `-no-pie`. Debug builds and other systems link as usual.

fn main() {
    println!("cargo::rerun-if-changed=../build.rs");
    println!("cargo::rerun-if-env-changed=PAO_LINK_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    // PAO_LINK_PIE=1 keeps the default (a PIE), for whoever prefers ASLR to the size.
    let keep_pie = std::env::var("PAO_LINK_PIE").is_ok_and(|v| v == "1");
    if linux && release && !keep_pie {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
