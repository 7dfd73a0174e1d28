//! Loads the email design: the built-in templates, or the overrides in
//! `templates.dir` (`email.css`, `en.toml`, `fr.toml`, each optional), checked
//! once at start so a broken override stops the start with one clear line.

use std::path::Path;

use email_templates::{Locale, Site, TemplateError, Templates};

use crate::config::Settings;

/// Who every email is from: the site's name, address and public URL.
pub fn site(settings: &Settings) -> Site {
    Site {
        name: settings.site.name.clone(),
        base_url: settings.base_url().to_string(),
        postal_address: settings.site.postal_address.clone(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TemplatesLoadError {
    #[error("templates.dir: cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("templates.dir: {0}")]
    Invalid(#[from] TemplateError),
}

pub fn load(dir: Option<&Path>) -> Result<Templates, TemplatesLoadError> {
    let Some(dir) = dir else {
        return Ok(Templates::builtin());
    };
    if !dir.is_dir() {
        return Err(TemplatesLoadError::Read {
            path: dir.display().to_string(),
            reason: "not a folder".into(),
        });
    }
    let css = read_optional(&dir.join("email.css"))?;
    let mut words = Vec::new();
    for locale in [Locale::En, Locale::Fr] {
        if let Some(source) = read_optional(&dir.join(format!("{}.toml", locale.as_str())))? {
            words.push((locale, source));
        }
    }
    let words: Vec<(Locale, &str)> = words.iter().map(|(l, s)| (*l, s.as_str())).collect();
    Ok(Templates::with_overrides(css.as_deref(), &words)?)
}

fn read_optional(path: &Path) -> Result<Option<String>, TemplatesLoadError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TemplatesLoadError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}
