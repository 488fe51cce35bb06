//! Pagination of list endpoints: `?limit=&cursor=` in, `{items, next_cursor}` out. Cursors are
//! opaque to clients; the store decides what they encode.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::{Problem, ProblemCode};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size asked for, checked against the bounds.
    pub fn limit(&self) -> Result<u32, Problem> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(Problem::new(ProblemCode::InvalidQuery)
                .field("limit", format!("must be between 1 and {MAX_LIMIT}"))),
        }
    }
}

impl PageQuery {
    /// The cursor read with the list's own `parse` (`None` on the first page); one it does not
    /// accept is a 400 naming the parameter.
    pub fn cursor<T>(&self, parse: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>, Problem> {
        match self.cursor.as_deref() {
            None => Ok(None),
            Some(cursor) => parse(cursor).map(Some).ok_or_else(|| {
                Problem::new(ProblemCode::InvalidQuery).field(
                    "cursor",
                    "not a cursor of this list; start again without one",
                )
            }),
        }
    }

    /// A page of a list held in memory; the cursor is where the next page starts.
    pub fn slice<T>(&self, items: Vec<T>) -> Result<Page<T>, Problem> {
        let limit = usize::try_from(self.limit()?).unwrap_or(usize::MAX);
        let start = self
            .cursor(|cursor| {
                cursor
                    .parse::<usize>()
                    .ok()
                    .filter(|start| *start <= items.len())
            })?
            .unwrap_or(0);
        let end = start.saturating_add(limit).min(items.len());
        let next_cursor = (end < items.len()).then(|| end.to_string());
        Ok(Page {
            items: items.into_iter().skip(start).take(end - start).collect(),
            next_cursor,
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(PageQuery::default().limit().unwrap(), DEFAULT_LIMIT);
        let q = |n| PageQuery {
            limit: Some(n),
            cursor: None,
        };
        assert_eq!(q(500).limit().unwrap(), 500);
        assert_eq!(q(0).limit().unwrap_err().errors[0].path, "limit");
        assert!(q(501).limit().is_err());
    }

    #[test]
    fn slices_walk_the_whole_list_once() {
        let query = |cursor: Option<String>| PageQuery {
            limit: Some(2),
            cursor,
        };
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = query(cursor).slice((0..5).collect::<Vec<_>>()).unwrap();
            seen.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        for bad in ["x", "6", "-1"] {
            let p = query(Some(bad.into())).slice(vec![1, 2, 3]).unwrap_err();
            assert_eq!(p.errors[0].path, "cursor");
        }
        assert!(
            query(None)
                .slice(Vec::<u8>::new())
                .unwrap()
                .next_cursor
                .is_none()
        );
    }
}
