# Shared by the scripts: logging and making sure the Rust tools are present.
# Sourced, not run.

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Cargo, rustfmt and clippy come with the standard rustup profile; add the two
# components when a minimal profile left them out.
ensure_rust_tools() {
  command -v cargo >/dev/null || { echo "cargo is not on PATH: install the Rust toolchain (https://rustup.rs)" >&2; exit 1; }
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      say "installing the $component component with rustup"
      rustup component add "$component"
    fi
  done
}
