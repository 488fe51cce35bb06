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
}
