//! "My tasks" on the home screen: the open tasks a supervisor assigned to
//! this officer, overdue first, each opening the right screen on the right
//! place (the visit on its house, the hazard, dispute or person to follow up).

use beatbook_core::tasks::{Task, TaskKind, TaskOpens};
use beatbook_schema::text::Lang;
use dioxus::prelude::*;

use super::errors::read_failed;
use super::i18n::{tr, use_lang};
use super::{Route, Ui};

fn kind_label(l: Lang, kind: TaskKind) -> String {
    match kind {
        TaskKind::Visit => tr(l, "走访房屋", "Visit a house"),
        TaskKind::HazardFollowUp => tr(l, "隐患跟进", "Follow up a hazard"),
        TaskKind::DisputeFollowUp => tr(l, "纠纷回访", "Dispute follow-up"),
        TaskKind::PersonCheck => tr(l, "人员核查", "Check a person"),
    }
}

/// Opens the screen a task asks for.
fn open(ui: Ui, task: &Task) {
    let Some(core) = ui.core() else { return };
    match core.task_opens(task) {
        Ok(TaskOpens::Visit { address, house }) => ui.go(Route::VisitHouse(address, house)),
        Ok(TaskOpens::Edit(id)) => ui.go(Route::Edit(id)),
        Err(e) => ui.failed(&e),
    }
}

/// The officer's open tasks, with their count; nothing when there are none.
#[component]
pub fn MyTasks() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read();
    let Some(core) = ui.core() else {
        return rsx! {};
    };
    let tasks = match core.my_tasks() {
        Ok(tasks) => tasks,
        Err(e) => return read_failed(l, "my tasks", &e),
    };
    if tasks.is_empty() {
        return rsx! {};
    }
    let today = core.platform().today();
    let count = tasks.len().to_string();
    rsx! {
        section { class: "tasks", id: "my-tasks",
            h3 { {tr(l, "我的任务", "My tasks")} " " span { class: "count", id: "task-count", "{count}" } }
            ul { class: "rows",
                for t in tasks {
                    li { key: "{t.id}", class: if t.is_overdue(today) { "row task overdue" } else { "row task" },
                        "data-id": "{t.id}", "data-target": "{t.target}",
                        onclick: { let t = t.clone(); move |_| open(ui, &t) },
                        div { class: "row-main",
                            span { class: "form", {kind_label(l, t.kind)} }
                            span { class: "label", "{t.place}" }
                            if !t.instruction.is_empty() { span { class: "instruction", "{t.instruction}" } }
                        }
                        if let Some(due) = t.due {
                            span { class: if t.is_overdue(today) { "state rejected" } else { "state" },
                                if t.is_overdue(today) { {tr(l, "已逾期 ", "Overdue ")} } else { {tr(l, "期限 ", "Due ")} }
                                "{due}"
                            }
                        }
                    }
                }
            }
        }
    }
}
