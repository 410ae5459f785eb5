//! Writes the web build's page: `beatbook-web-glue <index.html> <out>`
//! replaces the `<!-- dioxus-glue -->` line of the template with Dioxus
//! liveview's interpreter (the script that applies the VirtualDom's edits),
//! taken from the crate at build time so it always matches the worker's
//! `dioxus-liveview`. The socket address it names is never dialled: the
//! page's shim stands in for `WebSocket` and talks to the worker.

use std::process::ExitCode;

const MARK: &str = "<!-- dioxus-glue -->";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [template, out] = args.as_slice() else {
        eprintln!("usage: beatbook-web-glue <index.html template> <output file>");
        return ExitCode::FAILURE;
    };
    let page = match std::fs::read_to_string(template) {
        Ok(page) => page,
        Err(e) => {
            eprintln!("error: cannot read the page template {template}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !page.contains(MARK) {
        eprintln!("error: {template} has no {MARK} line to put the interpreter at");
        return ExitCode::FAILURE;
    }
    let page = page.replace(MARK, &dioxus_liveview::interpreter_glue("/m/worker"));
    if let Err(e) = std::fs::write(out, page) {
        eprintln!("error: cannot write {out}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
