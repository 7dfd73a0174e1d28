//! The next fire times of a schedule being typed on the newsletter form:
//! a line of script asks `/admin/schedule-preview` as the editor
//! types, and the list under the field follows.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::auth::Editor;

/// Shows the next five runs under the schedule field as the editor types
/// (the saved ones are listed beside the form without script).
pub(super) const LIVE_RUNS_SCRIPT: &str = r#"(function(){
var out=document.getElementById('live-runs');if(!out||!window.fetch)return;
var cron=document.querySelector('input[name=schedule]'),tz=document.querySelector('select[name=timezone]');
var timer=null;
function show(){var q='schedule='+encodeURIComponent(cron.value)+'&timezone='+encodeURIComponent(tz.value);
fetch('/admin/schedule-preview?'+q,{credentials:'same-origin'}).then(function(r){return r.json();}).then(function(p){
out.textContent=p.error?p.error:(p.runs.length?'Next: '+p.runs.join(' · '):'');});}
function later(){clearTimeout(timer);timer=setTimeout(show,250);}
cron.addEventListener('input',later);tz.addEventListener('change',show);if(cron.value)show();})();"#;

#[derive(Debug, Deserialize)]
pub struct SchedulePreviewQuery {
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    timezone: String,
}

/// The next five runs of a schedule being typed, as JSON for the form.
pub async fn schedule_preview(
    _editor: Editor,
    query: web::Query<SchedulePreviewQuery>,
) -> HttpResponse {
    let cron = query.schedule.trim();
    if cron.is_empty() {
        return HttpResponse::Ok().json(serde_json::json!({ "runs": [] }));
    }
    let timezone = if query.timezone.is_empty() {
        "UTC"
    } else {
        query.timezone.as_str()
    };
    match crate::newsletters::Schedule::parse(cron, timezone) {
        Ok(schedule) => {
            let tz = schedule.timezone();
            let runs: Vec<String> = schedule
                .next_runs(Utc::now(), 5)
                .into_iter()
                .map(|utc| {
                    utc.with_timezone(&tz)
                        .format("%a %Y-%m-%d %H:%M %Z")
                        .to_string()
                })
                .collect();
            HttpResponse::Ok().json(serde_json::json!({ "runs": runs }))
        }
        Err(error) => HttpResponse::Ok().json(serde_json::json!({ "error": error.to_string() })),
    }
}
