//! Reading a server's Prometheus page (`/metrics`) in tests.

/// The page of the server at `url` (fetched from loopback, which may read it).
pub async fn page(url: &str) -> String {
    reqwest::get(format!("{url}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The value of the series `name` (with its labels, as the page writes
/// them) on `page`, if the page has it.
pub fn value(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
