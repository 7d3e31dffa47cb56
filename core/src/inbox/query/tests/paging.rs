use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// New conversations land before, after and level with the position just reached (same sort
/// keys, conversation ids either side, otherwise alike, so they pass the same filters), and
/// anywhere, as they would while an agent pages.
fn arrivals(rng: &mut Rng, at: &Row, serial: &mut usize) -> Vec<Row> {
    let mut out = Vec::new();
    // Ids sort: `b-…` before every other id here, `{at}z` right after `at`.
    let mut names = vec![format!("b-{serial}"), format!("r{serial}")];
    if at.conversation.len() < crate::ids::MAX_ID_LEN {
        names.push(format!("{}z", at.conversation));
    }
    for name in names {
        *serial += 1;
        let mut row = if name.starts_with('r') { generate(rng, *serial) } else { at.clone() };
        row.conversation = name;
        out.push(row);
    }
    out
}

#[test]
fn paging_lists_every_original_row_once_in_order_while_new_rows_arrive() {
    for sort in Sort::ALL {
        for case in ["", "status=open,pending", "unread=true&assignee=unassigned"] {
            let (mut db, mut rng) = Db::generated(0xfeed, 200);
            let first = parse(&format!("{case}&sort={sort}&limit=9"));
            let original = expected(&db.rows, &first);
            let mut seen = Vec::new();
            let mut serial = 0;
            let mut page = Some(first);
            while let Some(q) = page {
                let (rows, next) = next_page(&db, &q);
                if let Some(last) = rows.last() {
                    let last = db.rows.iter().find(|r| r.conversation == last.conversation);
                    for row in arrivals(&mut rng, &last.unwrap().clone(), &mut serial) {
                        db.insert(row);
                    }
                }
                seen.extend(rows.into_iter().map(|r| r.conversation));
                page = next;
            }
            let mut times: BTreeMap<&str, usize> = BTreeMap::new();
            for c in &seen {
                *times.entry(c).or_default() += 1;
            }
            assert!(times.values().all(|n| *n == 1), "{case} sort={sort}: a row repeated");
            let originals: BTreeSet<&String> = original.iter().collect();
            let kept: Vec<&String> = seen.iter().filter(|c| originals.contains(c)).collect();
            let want: Vec<&String> = original.iter().collect();
            assert_eq!(kept, want, "{case} sort={sort}: original rows missing or out of order");
            // New rows that did show up are in their place in the final order.
            let now = expected(&db.rows, &parse(&format!("{case}&sort={sort}")));
            let seen_set: BTreeSet<&String> = seen.iter().collect();
            let order: Vec<&String> = now.iter().filter(|c| seen_set.contains(c)).collect();
            assert_eq!(seen.iter().collect::<Vec<_>>(), order, "{case} sort={sort}");
            assert!(seen.len() > original.len(), "{case} sort={sort}: no arrival was listed");
        }
    }
}
