//! Stacked bar charts drawn on the server as SVG: one bar per day, one coloured segment per
//! series, a scale, a legend, and the same numbers as a table for screen readers and printing.
//! Geometry is computed here; the template only places the shapes.

/// The drawing area, in SVG user units (the SVG scales to its container).
const WIDTH: u32 = 720;
const HEIGHT: u32 = 220;
const LEFT: u32 = 44;
/// The width of one character of a day label (font size 10), and the space between labels.
const LABEL_CHAR: u32 = 6;
const LABEL_GAP: u32 = 8;
const BOTTOM: u32 = 28;
const TOP: u32 = 10;

/// Series colours, in order; chosen to stay apart for the common colour-vision deficiencies.
const PALETTE: [&str; 5] = ["#0b5cad", "#e69f00", "#009e73", "#b3261e", "#7a5195"];

pub struct Segment {
    pub y: u32,
    pub height: u32,
    pub colour: &'static str,
    /// Shown on hover: series, day and value.
    pub title: String,
}

pub struct Bar {
    pub x: u32,
    pub width: u32,
    pub segments: Vec<Segment>,
    /// The day under the bar; empty when there is no room for every label.
    pub label: String,
    pub label_x: u32,
}

pub struct Tick {
    pub y: u32,
    pub label: u64,
}

pub struct LegendEntry {
    pub colour: &'static str,
    pub label: String,
}

pub struct Chart {
    pub id: &'static str,
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub axis_y: u32,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub legend: Vec<LegendEntry>,
    /// The chart as a table: the series' names, then per day its label and values.
    pub series: Vec<String>,
    pub table: Vec<(String, Vec<u64>)>,
    pub empty: bool,
}

/// A round scale maximum at or above `max` (1, 2, 5 × 10ⁿ), so ticks fall on round numbers.
fn nice_max(max: u64) -> u64 {
    let mut step = 1_u64;
    loop {
        for m in [1, 2, 5] {
            let candidate = step.saturating_mul(m);
            if candidate >= max {
                return candidate.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

fn scaled(value: u64, max: u64, span: u32) -> u32 {
    u32::try_from(value.saturating_mul(u64::from(span)) / max.max(1)).unwrap_or(span)
}

/// A stacked bar chart of `series` (label and one value per day) over `days`.
pub fn stacked(
    id: &'static str,
    title: String,
    days: Vec<String>,
    series: Vec<(String, Vec<u64>)>,
) -> Chart {
    let totals: Vec<u64> = (0..days.len())
        .map(|d| {
            series
                .iter()
                .map(|(_, v)| v.get(d).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = nice_max(totals.iter().copied().max().unwrap_or(0));
    let span = HEIGHT - TOP - BOTTOM;
    let axis_y = HEIGHT - BOTTOM;
    let slot = (WIDTH - LEFT) / u32::try_from(days.len().max(1)).unwrap_or(1);
    // Day labels are drawn at font size 10 (about 6 units a character) and need a gap between
    // them: "08/11/2026" needs 68 units, more than a day's slot over 14 days, so only every
    // other day is labelled then.
    let widest = days.iter().map(|d| d.chars().count()).max().unwrap_or(0);
    let needed = u32::try_from(widest)
        .unwrap_or(u32::MAX)
        .saturating_mul(LABEL_CHAR)
        + LABEL_GAP;
    let label_every = needed.div_ceil(slot.max(1)).max(1) as usize;
    let bars = days
        .iter()
        .enumerate()
        .map(|(d, day)| {
            let x = LEFT + u32::try_from(d).unwrap_or(0) * slot + slot / 8;
            let width = slot - slot / 4;
            let mut base = 0_u64;
            let segments = series
                .iter()
                .enumerate()
                .filter_map(|(s, (label, values))| {
                    let value = values.get(d).copied().unwrap_or(0);
                    if value == 0 {
                        return None;
                    }
                    let top = scaled(base + value, max, span);
                    let bottom = scaled(base, max, span);
                    base += value;
                    Some(Segment {
                        y: axis_y - top,
                        height: (top - bottom).max(1),
                        colour: PALETTE[s % PALETTE.len()],
                        title: format!("{label}, {day}: {value}"),
                    })
                })
                .collect();
            Bar {
                x,
                width,
                segments,
                label: if d % label_every == 0 {
                    day.clone()
                } else {
                    String::new()
                },
                label_x: x + width / 2,
            }
        })
        .collect();
    let ticks = [0, max / 2, max]
        .into_iter()
        .map(|value| Tick {
            y: axis_y - scaled(value, max, span),
            label: value,
        })
        .collect();
    Chart {
        id,
        title,
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        axis_y,
        bars,
        ticks,
        legend: series
            .iter()
            .enumerate()
            .map(|(s, (label, _))| LegendEntry {
                colour: PALETTE[s % PALETTE.len()],
                label: label.clone(),
            })
            .collect(),
        empty: totals.iter().all(|t| *t == 0),
        table: days
            .iter()
            .enumerate()
            .map(|(d, day)| {
                let values = series
                    .iter()
                    .map(|(_, v)| v.get(d).copied().unwrap_or(0))
                    .collect();
                (day.clone(), values)
            })
            .collect(),
        series: series.into_iter().map(|(label, _)| label).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_round_up_to_round_numbers() {
        let cases = [
            (0, 1),
            (1, 1),
            (3, 5),
            (7, 10),
            (11, 20),
            (250, 500),
            (501, 1000),
        ];
        for (max, want) in cases {
            assert_eq!(nice_max(max), want, "{max}");
        }
    }

    #[test]
    fn day_labels_never_overlap() {
        for (days, label) in [
            (14, "08/11/2026"),
            (14, "2026-11-08"),
            (7, "08/11/2026"),
            (30, "8/11"),
        ] {
            let chart = stacked(
                "c",
                "t".into(),
                vec![label.to_owned(); days],
                vec![("a".into(), vec![1; days])],
            );
            let labelled: Vec<u32> = chart
                .bars
                .iter()
                .filter(|b| !b.label.is_empty())
                .map(|b| b.label_x)
                .collect();
            assert!(!labelled.is_empty());
            let width = u32::try_from(label.len()).unwrap() * LABEL_CHAR;
            for pair in labelled.windows(2) {
                assert!(
                    pair[1] - pair[0] >= width,
                    "{days} days of {label}: {labelled:?}"
                );
            }
        }
    }

    #[test]
    fn segments_stack_within_the_axis() {
        let chart = stacked(
            "c",
            "t".into(),
            vec!["d1".into(), "d2".into()],
            vec![("a".into(), vec![3, 0]), ("b".into(), vec![2, 10])],
        );
        assert!(!chart.empty);
        assert_eq!(chart.ticks.last().unwrap().label, 10);
        let first = &chart.bars[0];
        assert_eq!(first.segments.len(), 2);
        // Stacked: b sits on a, and the whole bar (5 of 10) is half the span.
        assert_eq!(
            first.segments[1].y + first.segments[1].height,
            first.segments[0].y
        );
        let span = HEIGHT - TOP - BOTTOM;
        let total: u32 = first.segments.iter().map(|s| s.height).sum();
        assert_eq!(total, span / 2);
        let second = &chart.bars[1];
        assert_eq!(second.segments.len(), 1, "zero values draw nothing");
        assert_eq!(second.segments[0].y, TOP);
        assert!(second.segments[0].title.contains("b, d2: 10"));
        let none = stacked(
            "e",
            "t".into(),
            vec!["d".into()],
            vec![("a".into(), vec![0])],
        );
        assert!(none.empty);
    }
}
