//! Which CPUs this process may run on, and pinning a child process to one of them (Linux's
//! `sched_getaffinity` and `sched_setaffinity`), for the side-by-side measurement.
//!
//! Elsewhere there is no pinning: [`allowed`] is empty, so side by side is refused with an error
//! rather than run unpinned.

use std::process::Command;

/// The CPUs this process may run on, in increasing order (empty where unknown).
pub fn allowed() -> Vec<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `set` is a plain bit set, zeroed, and the call writes at most its size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Vec::new();
            }
            (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect()
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

/// Makes `cmd`'s process run only on `cpu`, if given (its threads included: the mask is
/// inherited), from before its program starts.
pub fn pin(cmd: &mut Command, cpu: Option<usize>) {
    let Some(cpu) = cpu else { return };
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec the closure only builds a bit set on the stack and makes
        // one system call, both async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (cmd, cpu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pinned_child_sees_one_cpu() {
        let cpus = allowed();
        assert!(!cpus.is_empty(), "this process runs on some CPU");
        let last = *cpus.last().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "grep Cpus_allowed_list /proc/self/status"]);
        pin(&mut cmd, Some(last));
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.split_whitespace().last(), Some(last.to_string().as_str()), "{text}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pinning_to_a_cpu_not_allowed_fails_to_start() {
        let mut cmd = Command::new("true");
        pin(&mut cmd, Some(libc::CPU_SETSIZE as usize - 1));
        if !allowed().contains(&(libc::CPU_SETSIZE as usize - 1)) {
            assert!(cmd.status().is_err());
        }
    }
}
