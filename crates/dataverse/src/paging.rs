//! Reading a query page by page: a stream that follows `@odata.nextLink` unchanged with the same
//! `Prefer: odata.maxpagesize`, and the record counts shown as progress.

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::{Client, Request};
use crate::error::Error;
use crate::query::Query;
use crate::rows::Row;

/// Dataverse's largest page, and the cap of its counts.
pub const MAX_PAGE_SIZE: u32 = 5000;

#[derive(Debug, Clone, PartialEq)]
pub struct PageOptions {
    /// Rows per page, 1 to 5000.
    pub page_size: u32,
    /// `odata.include-annotations` values (`*`, or names such as
    /// `OData.Community.Display.V1.FormattedValue`); none when empty.
    pub annotations: Vec<String>,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions {
            page_size: MAX_PAGE_SIZE,
            annotations: Vec::new(),
        }
    }
}

/// A count as Dataverse gives it: exact up to 5000, otherwise "at least".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RecordCount {
    pub count: u64,
    /// More rows exist than `count` says.
    pub at_least: bool,
}

/// One page of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<Row>,
    /// On the first page of a query with [`Query::count`].
    pub count: Option<RecordCount>,
    pub next_link: Option<String>,
    /// On the last page of a change-tracked read.
    pub delta_link: Option<String>,
}

#[derive(Deserialize)]
struct PageBody {
    value: Vec<Map<String, Value>>,
    #[serde(rename = "@odata.count")]
    count: Option<u64>,
    #[serde(rename = "@Microsoft.Dynamics.CRM.totalrecordcount")]
    total: Option<i64>,
    #[serde(rename = "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded")]
    total_exceeded: Option<bool>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

const COUNT_ANNOTATIONS: &str =
    "Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded";

/// The `Prefer` header of a paged read.
pub(crate) fn prefer(options: &PageOptions, count: bool, track_changes: bool) -> String {
    let mut parts = vec![format!(
        "odata.maxpagesize={}",
        options.page_size.clamp(1, MAX_PAGE_SIZE)
    )];
    let mut annotations = options.annotations.clone();
    if count && !annotations.iter().any(|a| a == "*") {
        annotations.push(COUNT_ANNOTATIONS.into());
    }
    if !annotations.is_empty() {
        parts.push(format!(
            "odata.include-annotations=\"{}\"",
            annotations.join(",")
        ));
    }
    if track_changes {
        parts.push("odata.track-changes".into());
    }
    parts.join(",")
}

/// Where a page stream stands.
enum Cursor {
    First(String),
    Next(String),
    Done,
}

impl Client {
    /// Fetches one page (the first one of a query or a `nextLink`/`deltaLink`).
    pub(crate) async fn fetch_page(&self, target: &str, prefer: &str) -> Result<Page, Error> {
        let response = self
            .send(Request::get(target).header("prefer", prefer))
            .await?;
        let body: PageBody = response.json()?;
        let count = match (body.total, body.count) {
            (Some(total), _) if total >= 0 => Some(RecordCount {
                count: total.unsigned_abs(),
                at_least: body.total_exceeded.unwrap_or(false),
            }),
            (_, Some(count)) => Some(RecordCount {
                count,
                at_least: count >= u64::from(MAX_PAGE_SIZE),
            }),
            _ => None,
        };
        Ok(Page {
            rows: body.value.into_iter().map(Row::new).collect(),
            count,
            next_link: body.next_link,
            delta_link: body.delta_link,
        })
    }

    /// The pages of a query, fetched one at a time as the stream is polled.
    pub fn pages(
        &self,
        query: &Query,
        options: &PageOptions,
    ) -> BoxStream<'static, Result<Page, Error>> {
        let prefer = prefer(options, query.wants_count(), false);
        self.page_stream(query.path(), prefer)
    }

    pub(crate) fn page_stream(
        &self,
        first: Result<String, Error>,
        prefer: String,
    ) -> BoxStream<'static, Result<Page, Error>> {
        let client = self.clone();
        let start = first.map(Cursor::First);
        futures_util::stream::try_unfold(start, move |cursor| {
            let client = client.clone();
            let prefer = prefer.clone();
            async move {
                let target = match cursor? {
                    Cursor::First(path) => path,
                    Cursor::Next(link) => link,
                    Cursor::Done => return Ok(None),
                };
                let page = client.fetch_page(&target, &prefer).await?;
                let next = match &page.next_link {
                    Some(link) if *link == target => {
                        return Err(Error::unexpected(
                            http::StatusCode::OK,
                            "the next link repeats the page just read",
                        ));
                    }
                    Some(link) => Cursor::Next(link.clone()),
                    None => Cursor::Done,
                };
                Ok(Some((page, Ok(next))))
            }
        })
        .boxed()
    }

    /// Every row of a query, all pages read (for small result sets).
    pub async fn query_all(&self, query: &Query) -> Result<Vec<Row>, Error> {
        let pages: Vec<Page> = self
            .pages(query, &PageOptions::default())
            .try_collect()
            .await?;
        Ok(pages.into_iter().flat_map(|p| p.rows).collect())
    }

    /// `GET <set>/$count`: the number of rows the caller can read, up to 5000.
    pub async fn count(&self, entity_set: &str) -> Result<RecordCount, Error> {
        let path = format!("{}/$count", Query::new(entity_set).path()?);
        let response = self.send(Request::get(path)).await?;
        let text = String::from_utf8_lossy(&response.body);
        let count: u64 = text
            .trim()
            .trim_start_matches('\u{feff}')
            .parse()
            .map_err(|_| Error::unexpected(response.status, format!("$count answered {text:?}")))?;
        Ok(RecordCount {
            count,
            at_least: count >= u64::from(MAX_PAGE_SIZE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefer_header_combines_page_size_annotations_and_tracking() {
        let options = PageOptions {
            page_size: 9000,
            annotations: vec!["OData.Community.Display.V1.FormattedValue".into()],
        };
        assert_eq!(
            prefer(&options, true, false),
            "odata.maxpagesize=5000,odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded\""
        );
        assert_eq!(
            prefer(
                &PageOptions {
                    page_size: 50,
                    annotations: vec![]
                },
                false,
                true
            ),
            "odata.maxpagesize=50,odata.track-changes"
        );
    }
}
