//! A small, strict XML tree for the standards' documents: namespaces resolved, no DOCTYPE (so no external entities
//! and no entity expansion beyond XML's five predefined ones and character references), and hard limits on size,
//! depth and element count checked while reading, before any tree is built past them.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::Error;

/// Hard limits on an XML document; the defaults suit CAP alerts and PIDF-LO location objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most elements in the document.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 20,
            max_depth: 16,
            max_elements: 20_000,
        }
    }
}

/// One element: its namespace (if bound), local name, the text directly inside it, and its child elements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    /// The namespace URI the element's prefix resolves to; `None` when unbound.
    pub ns: Option<String>,
    /// The local name.
    pub name: String,
    /// The concatenated text and CDATA directly inside the element, entities resolved.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

/// Parses `input` into its root element under `limits`.
pub fn parse(input: &str, limits: Limits) -> Result<Element, Error> {
    if input.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let mut reader = NsReader::from_str(input);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut n_elements = 0usize;
    loop {
        let at = reader.buffer_position();
        let (ns, event) = reader.read_resolved_event().map_err(|e| Error::Xml {
            offset: at,
            reason: e.to_string(),
        })?;
        let ns = match ns {
            ResolveResult::Bound(n) => Some(String::from_utf8_lossy(n.as_ref()).into_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(p) => {
                return Err(Error::Xml {
                    offset: at,
                    reason: format!("unknown namespace prefix {}", String::from_utf8_lossy(&p)),
                });
            }
        };
        match event {
            Event::DocType(_) => {
                return Err(Error::Xml {
                    offset: at,
                    reason: "a DOCTYPE is not allowed (no DTDs, no entities)".into(),
                });
            }
            Event::Start(e) | Event::Empty(e) if root.is_some() && stack.is_empty() => {
                let _ = e;
                return Err(Error::Xml {
                    offset: at,
                    reason: "content after the root element".into(),
                });
            }
            Event::Start(e) => {
                let element = open(ns, e.local_name().as_ref(), &stack, &mut n_elements, limits)?;
                stack.push(element);
            }
            Event::Empty(e) => {
                let element = open(ns, e.local_name().as_ref(), &stack, &mut n_elements, limits)?;
                close(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| Error::Xml {
                    offset: at,
                    reason: "end tag without a start".into(),
                })?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| Error::Xml {
                    offset: at,
                    reason: e.to_string(),
                })?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => {
                        return Err(Error::Xml {
                            offset: at,
                            reason: "text outside the root element".into(),
                        });
                    }
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => r
                        .decode()
                        .ok()
                        .and_then(|n| quick_xml::escape::resolve_predefined_entity(&n))
                        .map(str::to_string),
                };
                let Some(s) = resolved else {
                    return Err(Error::Xml {
                        offset: at,
                        reason: "an entity other than the five predefined ones".into(),
                    });
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(Error::Xml {
            offset: input.len() as u64,
            reason: format!(
                "unclosed element {}",
                stack.last().map_or("", |e| e.name.as_str())
            ),
        });
    }
    root.ok_or(Error::Xml {
        offset: 0,
        reason: "no root element".into(),
    })
}

fn open(
    ns: Option<String>,
    local_name: &[u8],
    stack: &[Element],
    n_elements: &mut usize,
    limits: Limits,
) -> Result<Element, Error> {
    *n_elements += 1;
    if *n_elements > limits.max_elements {
        return Err(Error::Limit {
            what: "elements",
            limit: limits.max_elements,
        });
    }
    if stack.len() + 1 > limits.max_depth {
        return Err(Error::Limit {
            what: "nesting depth",
            limit: limits.max_depth,
        });
    }
    Ok(Element {
        ns,
        name: String::from_utf8_lossy(local_name).into_owned(),
        ..Element::default()
    })
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}
