//! The field app's web build as the server serves it under `/m/`: the
//! files of `web_dir`, revalidated on every load, nothing outside it, and
//! a clear 404 when no build is configured.

use beatbook_tests::TestServer;
use reqwest::redirect::Policy;
use reqwest::StatusCode;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn the_web_build_is_served_under_m_and_nothing_beside_it() {
    let root = tempfile::tempdir().expect("temp dir");
    let web = root.path().join("web");
    std::fs::create_dir(&web).expect("web dir");
    std::fs::write(root.path().join("secret.txt"), "not for phones").expect("secret");
    std::fs::write(
        web.join("index.html"),
        "<!doctype html><title>Beatbook</title>",
    )
    .expect("index");
    std::fs::write(web.join("beatbook_web_bg.wasm"), b"\0asm\x01\0\0\0").expect("wasm");
    let dir = web.clone();
    let server = TestServer::start_with(move |c| c.web_dir = Some(dir)).await;
    let http = client();
    let get = |path: &str| http.get(format!("{}{path}", server.url)).send();

    let bare = get("/m").await.expect("/m");
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers()["location"], "/m/");

    let index = get("/m/").await.expect("/m/");
    assert_eq!(index.status(), StatusCode::OK);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(index
        .text()
        .await
        .expect("body")
        .contains("<title>Beatbook"));

    let wasm = get("/m/beatbook_web_bg.wasm").await.expect("wasm");
    assert_eq!(wasm.headers()["content-type"], "application/wasm");

    for outside in [
        "/m/%2e%2e/secret.txt",
        "/m/../secret.txt",
        "/m/..%2fsecret.txt",
        "/m/nothing.js",
    ] {
        let res = get(outside).await.expect(outside);
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{outside}");
    }
}

#[tokio::test]
async fn without_a_web_build_m_says_how_to_make_one() {
    let server = TestServer::start().await;
    let res = client()
        .get(format!("{}/m/", server.url))
        .send()
        .await
        .expect("/m/");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res
        .text()
        .await
        .expect("body")
        .contains("scripts/web-build.sh"));
}
