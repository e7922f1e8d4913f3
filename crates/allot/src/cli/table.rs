//! Plain aligned columns for people, and the cell text taken from the
//! server's JSON. Reading fields from `Value` (not the server's Rust types)
//! keeps the CLI working against a server that has added fields.

use serde_json::Value;

use super::error::sanitize;

const GAP: &str = "  ";

/// Rows of cells printed as left-aligned columns; an empty header prints
/// no header line (used for `field  value` detail views).
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| sanitize(c)).collect());
    }

    /// Each line ends with a newline; the last column is not padded so no
    /// line carries trailing spaces.
    pub fn render(&self) -> String {
        let lines: Vec<&Vec<String>> = if self.header.is_empty() {
            self.rows.iter().collect()
        } else {
            std::iter::once(&self.header).chain(&self.rows).collect()
        };
        let columns = lines.iter().map(|l| l.len()).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for line in &lines {
            for (i, cell) in line.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in lines {
            let mut text = String::new();
            for (i, cell) in line.iter().enumerate() {
                if i > 0 {
                    text.push_str(GAP);
                }
                text.push_str(cell);
                let pad = widths[i] - cell.chars().count();
                text.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A field as a cell: strings as they are (times stay RFC 3339 as the server
/// wrote them), missing or null as `-`, anything else as compact JSON.
pub fn cell(doc: &Value, key: &str) -> String {
    match doc.get(key) {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_without_trailing_spaces() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["1".into(), "backup".into()]);
        t.row(vec!["12345".into(), "é".into()]);
        assert_eq!(t.render(), "ID     NAME\n1      backup\n12345  é\n");
    }

    #[test]
    fn control_characters_cannot_break_lines() {
        let mut t = Table::new(&[]);
        t.row(vec!["name".into(), "a\nb\u{1b}[2J".into()]);
        assert_eq!(t.render(), "name  a b [2J\n");
    }

    #[test]
    fn cells_from_json() {
        let doc = serde_json::json!({"s": "x", "n": null, "o": {"a": 1}});
        assert_eq!(cell(&doc, "s"), "x");
        assert_eq!(cell(&doc, "n"), "-");
        assert_eq!(cell(&doc, "missing"), "-");
        assert_eq!(cell(&doc, "o"), r#"{"a":1}"#);
    }
}
