//! Reading a query page by page: a stream that follows `@odata.nextLink` unchanged with the same
//! `Prefer: odata.maxpagesize`, and the record counts shown as progress.

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::{Client, Request, Response};
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

/// Just the links of a page, read without building its rows.
#[derive(Deserialize)]
struct PageLinks {
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// A page's rows and counts from its body.
fn parse_page(response: &Response) -> Result<Page, Error> {
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

/// Where a page stream stands: not started until first polled (so it starts inside the
/// runtime), then fed by its producer task.
enum Feed {
    Idle {
        client: Client,
        first: Result<String, Error>,
        prefer: String,
    },
    Running(tokio::sync::mpsc::Receiver<Result<Page, Error>>),
}

type Fetch = tokio::task::JoinHandle<Result<Response, Error>>;

impl Client {
    fn fetch(&self, target: String, prefer: String) -> Fetch {
        let client = self.clone();
        tokio::spawn(async move {
            client
                .send(Request::get(target).header("prefer", prefer))
                .await
        })
    }

    /// Fetches pages one ahead of the consumer: the next page is requested as soon as this
    /// one's link is known, while this one is parsed and waits to be taken.
    async fn produce_pages(
        self,
        first: String,
        prefer: String,
        pages: tokio::sync::mpsc::Sender<Result<Page, Error>>,
    ) {
        let mut target = first;
        let mut pending = self.fetch(target.clone(), prefer.clone());
        loop {
            let response = match pending.await {
                Ok(r) => r,
                Err(e) => Err(Error::unexpected(
                    http::StatusCode::OK,
                    format!("a page fetch stopped: {e}"),
                )),
            };
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    let _ = pages.send(Err(e)).await;
                    return;
                }
            };
            let next = match response.json::<PageLinks>() {
                Ok(links) => links.next_link,
                Err(e) => {
                    let _ = pages.send(Err(e)).await;
                    return;
                }
            };
            if next.as_deref() == Some(target.as_str()) {
                let _ = pages
                    .send(Err(Error::unexpected(
                        http::StatusCode::OK,
                        "the next link repeats the page just read",
                    )))
                    .await;
                return;
            }
            let following = next.clone().map(|link| self.fetch(link, prefer.clone()));
            let page = parse_page(&response);
            drop(response);
            let failed = page.is_err();
            if pages.send(page).await.is_err() || failed {
                if let Some(f) = following {
                    f.abort();
                }
                return;
            }
            match (following, next) {
                (Some(f), Some(link)) => {
                    pending = f;
                    target = link;
                }
                _ => return,
            }
        }
    }

    /// The pages of a query, fetched as the stream is polled, one page ahead.
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
        let start = Feed::Idle {
            client: self.clone(),
            first,
            prefer,
        };
        futures_util::stream::unfold(start, |feed| async move {
            let mut receiver = match feed {
                Feed::Running(receiver) => receiver,
                Feed::Idle {
                    client,
                    first,
                    prefer,
                } => {
                    let first = match first {
                        Ok(path) => path,
                        Err(e) => {
                            let (_, closed) = tokio::sync::mpsc::channel(1);
                            return Some((Err(e), Feed::Running(closed)));
                        }
                    };
                    let (sender, receiver) = tokio::sync::mpsc::channel(1);
                    tokio::spawn(client.produce_pages(first, prefer, sender));
                    receiver
                }
            };
            let item = receiver.recv().await?;
            Some((item, Feed::Running(receiver)))
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
