//! Forms: publishing a version is idempotent, every version is listed (as
//! published: its roles and retirement too), and each new version reaches
//! the change log once.

use beatbook_schema::catalogue;
use beatbook_schema::form::FormDef;
use beatbook_schema::protocol::{Cursor, PullItem, Role};

use super::fixture::pull_all;
use super::Backend;
use crate::ReadScope;

fn standard() -> Vec<FormDef> {
    catalogue::standard_forms()
        .expect("the standard forms")
        .iter()
        .map(|f| f.def().clone())
        .collect()
}

fn key(def: &FormDef) -> (String, u32) {
    (def.form_id.to_string(), def.version)
}

/// Publishing says whether the version was new; publishing it again (here
/// or through another handle) changes nothing; `forms()` lists every version,
/// `forms_published()` counts them, and the log carries each new one once.
pub async fn publish_is_idempotent_and_lists_every_version(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let published = || async { store.forms_published().await.expect("published") };
    let forms = standard();
    let before = published().await;
    for def in &forms {
        assert!(
            store.publish_form(def).await.expect("publish"),
            "{} is new",
            def.form_id
        );
    }
    assert_eq!(published().await, before + forms.len() as u64);
    let other = fresh.again.open().await;
    for def in &forms {
        assert!(
            !other.publish_form(def).await.expect("publish"),
            "{} again",
            def.form_id
        );
    }
    assert_eq!(
        published().await,
        before + forms.len() as u64,
        "publishing again counts nothing"
    );
    // Who may enter a form and its retirement are data of the definition:
    // they read back, from the list and from the log, as published.
    let mut v2 = forms[0].clone();
    v2.version = 2;
    v2.roles = Some(vec![Role::Auxiliary, Role::Officer]);
    v2.retired = true;
    assert!(store.publish_form(&v2).await.expect("publish"));

    let mut listed: Vec<_> = store
        .forms()
        .await
        .expect("forms")
        .iter()
        .map(key)
        .collect();
    let mut expect: Vec<_> = forms.iter().chain([&v2]).map(key).collect();
    listed.sort();
    expect.sort();
    assert_eq!(listed, expect, "every version, once");
    assert_eq!(published().await, listed.len() as u64, "as many as listed");
    let stored_v2 = store
        .forms()
        .await
        .expect("forms")
        .into_iter()
        .find(|d| key(d) == key(&v2))
        .expect("v2");
    assert_eq!(stored_v2, v2, "a definition reads back as published");

    let logged_defs: Vec<_> = pull_all(store, ReadScope::All, Cursor(0), 4)
        .await
        .into_iter()
        .filter_map(|i| match i {
            PullItem::Form { definition, .. } => Some(*definition),
            PullItem::Record { .. } => None,
        })
        .collect();
    assert!(
        logged_defs.contains(&v2),
        "the log carries the definition as published"
    );
    let mut logged: Vec<_> = logged_defs.iter().map(key).collect();
    logged.sort();
    assert_eq!(logged, expect, "each new version reaches the log once");
}

/// Two instances publishing the same version at once: one of them publishes it.
pub async fn concurrent_publish_of_one_version_is_new_once(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let other = fresh.again.open().await;
    for def in standard() {
        let (one, two) = (fresh.store.clone(), other.clone());
        let (d1, d2) = (def.clone(), def.clone());
        let first = tokio::spawn(async move { one.publish_form(&d1).await.expect("publish") });
        let second = tokio::spawn(async move { two.publish_form(&d2).await.expect("publish") });
        let news = [first.await.expect("task"), second.await.expect("task")];
        assert_eq!(
            news.iter().filter(|n| **n).count(),
            1,
            "{}: {news:?}",
            def.form_id
        );
    }
    let forms = fresh.store.forms().await.expect("forms");
    assert_eq!(forms.len(), standard().len());
    let logged = pull_all(fresh.store.as_ref(), ReadScope::All, Cursor(0), 50).await;
    assert_eq!(logged.len(), forms.len());
}
