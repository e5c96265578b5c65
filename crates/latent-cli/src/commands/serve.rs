//! `latent serve`: load the runs, start the workers, listen, and serve the explorer's page and
//! JSON API ([`crate::serve`]) until Ctrl-C.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::cli::ServeArgs;
use crate::serve::runs::{self, ServedRun};
use crate::serve::workers::Workers;
use crate::serve::{AppState, page_url, router, serve};

/// The most compute workers started, whatever `--threads` says: each holds a copy of every
/// model, and the page's requests are small.
pub const MAX_WORKERS: usize = 8;

/// Run `latent serve`.
///
/// # Errors
/// If a run or its data cannot be loaded, the address is invalid or taken, or serving fails.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let addr = resolve(&args.host, args.port)?;
    // Bound first, so that a taken port fails at once rather than after loading the runs;
    // connections made while they load wait in the backlog.
    let listener = std::net::TcpListener::bind(addr).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
            "--port {}: the port is in use on {}; pick another (--port 0 takes any free one)",
            args.port,
            addr.ip()
        ),
        _ => anyhow::Error::new(e)
            .context(format!("cannot listen on {addr} (--host {} --port {})", args.host, args.port)),
    })?;
    listener.set_nonblocking(true).context("preparing the listening socket")?;
    let mut served = Vec::new();
    for (path, name) in args.runs.iter().zip(runs::names(&args.runs)) {
        let run =
            ServedRun::load(path, name, &args.data).with_context(|| format!("latent serve {}", path.display()))?;
        eprintln!(
            "{} as `{}`: {} ({}), {}-dimensional codes, {} test examples",
            path.display(),
            run.name,
            run.config.preset,
            run.description.kind,
            run.description.latent_dim,
            run.data.test.len()
        );
        served.push(Arc::new(run));
    }
    // Inside the command's pool, whose size is --threads (default: every core).
    let threads = latent_tensor::threads::num_threads().clamp(1, MAX_WORKERS);
    let workers = Workers::start(&served, threads)?;
    let state = Arc::new(AppState { runs: served, workers });
    let loopback = addr.ip().is_loopback();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("latent-serve-io")
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).context("preparing the listening socket")?;
        let url = page_url(listener.local_addr()?);
        if !loopback {
            eprintln!(
                "warning: listening on {}: anyone who can reach this address can use the models (there is no password)",
                addr.ip()
            );
        }
        eprintln!("serving {} run(s) with {threads} worker(s) on {url} (Ctrl-C stops)", state.runs.len());
        if args.open {
            open_browser(&url);
        }
        serve(listener, router(state, loopback), async {
            // Without a signal handler the process simply ends; with one, it ends cleanly.
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
        eprintln!("stopped");
        Ok(())
    })
}

/// The address `--host` and `--port` name (the first IPv4 one of a name such as `localhost`).
fn resolve(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("--host {host}: not an address or a name of this machine"))?
        .collect();
    match addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()) {
        Some(a) => Ok(*a),
        None => bail!("--host {host}: the name has no address"),
    }
}

/// Ask the desktop to open `url` in the default browser; a failure is a warning (the address is
/// printed anyway).
fn open_browser(url: &str) {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    match command.arg(url).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn() {
        // Reaped in the background so that it leaves no zombie.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("warning: --open: cannot start a browser ({e}); open {url} yourself"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_resolve_to_an_address_or_a_message_naming_the_flag() {
        assert_eq!(resolve("127.0.0.1", 9).unwrap(), "127.0.0.1:9".parse().unwrap());
        assert!(resolve("localhost", 0).unwrap().ip().is_loopback());
        let e = resolve("no such host!", 1).unwrap_err().to_string();
        assert!(e.contains("--host no such host!"), "{e}");
    }
}
