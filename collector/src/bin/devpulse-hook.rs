//! `devpulse-hook`: exactly `devpulse hook`, in a binary that links only the hook's code, so
//! the loader has a fraction of the work before `main`. `devpulse setup` installs this one
//! when it sits next to `devpulse`.

fn main() {
    collector::hook::run(&collector::config::Paths::from_env());
}
