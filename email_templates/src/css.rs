//! Checks on override CSS. The inliner skips rules it cannot parse without
//! a word, so a typo would silently unstyle part of every email; these
//! checks catch the structural mistakes (unbalanced braces, unterminated
//! comments and strings) with the line they start on, and refuse what could
//! break out of the `<style>` block that keeps `@media` rules.

use crate::TemplateError;

pub(crate) fn check(css: &str) -> Result<(), TemplateError> {
    if let Some(line) = line_of(css, css.find("</")) {
        return Err(error(format!(
            "'</' at line {line}: the CSS must not contain '</' (it could end the <style> block)"
        )));
    }
    if let Some(line) = line_of(
        css,
        css.find(|c: char| c.is_control() && !c.is_ascii_whitespace()),
    ) {
        return Err(error(format!("control character at line {line}")));
    }
    let mut open_braces: Vec<usize> = Vec::new();
    let mut line = 1;
    let mut chars = css.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let start = line;
                let mut previous = ' ';
                loop {
                    match chars.next() {
                        None => {
                            return Err(error(format!("comment at line {start} is not closed")));
                        }
                        Some('/') if previous == '*' => break,
                        Some(next) => {
                            if next == '\n' {
                                line += 1;
                            }
                            previous = next;
                        }
                    }
                }
            }
            '"' | '\'' => {
                let start = line;
                loop {
                    match chars.next() {
                        None | Some('\n') => {
                            return Err(error(format!("string at line {start} is not closed")));
                        }
                        Some('\\') => {
                            chars.next();
                        }
                        Some(quote) if quote == c => break,
                        Some(_) => {}
                    }
                }
            }
            '{' => open_braces.push(line),
            '}' if open_braces.pop().is_none() => {
                return Err(error(format!("'}}' at line {line} closes nothing")));
            }
            _ => {}
        }
    }
    match open_braces.pop() {
        Some(start) => Err(error(format!("'{{' at line {start} is never closed"))),
        None => Ok(()),
    }
}

fn error(message: String) -> TemplateError {
    TemplateError::Css(message)
}

fn line_of(css: &str, position: Option<usize>) -> Option<usize> {
    position.map(|position| css[..position].matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(css: &str) -> String {
        check(css).unwrap_err().to_string()
    }

    #[test]
    fn accepts_the_builtin_css_and_tricky_but_valid_css() {
        check(crate::BUILTIN_CSS).unwrap();
        check("a::after { content: \"}{ /*\"; } /* } { */ p { color: red }").unwrap();
    }

    #[test]
    fn names_the_line_of_structural_mistakes() {
        assert_eq!(
            message("p {\n color: red"),
            "CSS: '{' at line 1 is never closed"
        );
        assert_eq!(message("p {}\n}"), "CSS: '}' at line 2 closes nothing");
        assert_eq!(message("\n/* note"), "CSS: comment at line 2 is not closed");
        assert_eq!(
            message("p { content: 'x }"),
            "CSS: string at line 1 is not closed"
        );
        assert!(message("p{}\n</style><script>").starts_with("CSS: '</' at line 2"));
        assert_eq!(message("p{\u{1}}"), "CSS: control character at line 1");
    }
}
