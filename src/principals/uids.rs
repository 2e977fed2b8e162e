//! A uid for each principal, from the configured range, stable by name: the
//! same set of names always gets the same uids, so a workspace an agent
//! left keeps its owner across restarts. A name's first choice is drawn
//! from a hash of it; names whose choice is taken (by a pinned uid, or an
//! earlier name in sorted order) take the next free uid.

use sha2::{Digest, Sha256};

/// Assigns a uid to each of `names` (with its pinned uid, if any) within
/// `range` (inclusive). Pinned uids are kept as given.
pub(super) fn assign(names: &[(String, Option<u32>)], range: (u32, u32)) -> Result<Vec<u32>, String> {
    let (low, high) = range;
    let size = u64::from(high - low) + 1;
    let mut taken: Vec<u32> = names.iter().filter_map(|(_, pinned)| *pinned).collect();
    if let Some(uid) = taken.iter().find(|uid| taken.iter().filter(|u| u == uid).count() > 1) {
        return Err(format!("two principals pin the uid {uid}"));
    }
    let free = size.saturating_sub(taken.iter().filter(|u| (low..=high).contains(*u)).count() as u64);
    if (names.iter().filter(|(_, pinned)| pinned.is_none()).count() as u64) > free {
        return Err(format!("MCP_COMMAND_UIDS {low}-{high} has fewer free uids than there are principals"));
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|a, b| names[*a].0.cmp(&names[*b].0));
    let mut uids = vec![0u32; names.len()];
    for index in order {
        let (name, pinned) = &names[index];
        if let Some(uid) = pinned {
            uids[index] = *uid;
            continue;
        }
        let hash = Sha256::digest(name.as_bytes());
        let mut slot = u64::from_le_bytes(hash[..8].try_into().expect("8 bytes")) % size;
        loop {
            let uid = low + slot as u32;
            if !taken.contains(&uid) {
                taken.push(uid);
                uids[index] = uid;
                break;
            }
            slot = (slot + 1) % size;
        }
    }
    Ok(uids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<(String, Option<u32>)> {
        list.iter().map(|n| (n.to_string(), None)).collect()
    }

    #[test]
    fn uids_are_stable_by_name_distinct_and_in_range() {
        let first = assign(&names(&["alice", "bob", "carol"]), (20000, 20009)).unwrap();
        let again = assign(&names(&["carol", "alice", "bob"]), (20000, 20009)).unwrap();
        assert_eq!([first[0], first[1], first[2]], [again[1], again[2], again[0]]);
        let mut sorted = first.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 3);
        assert!(first.iter().all(|u| (20000..=20009).contains(u)));
    }

    #[test]
    fn every_uid_of_a_full_range_is_used_once_and_pins_are_kept() {
        let mut list = names(&["a", "b", "c"]);
        list.push(("d".into(), Some(20001)));
        let mut uids = assign(&list, (20000, 20003)).unwrap();
        assert_eq!(uids[3], 20001);
        uids.sort();
        assert_eq!(uids, [20000, 20001, 20002, 20003]);
        assert!(assign(&names(&["a", "b", "c"]), (20000, 20001)).is_err(), "more names than uids");
        assert!(assign(&[("a".into(), Some(5)), ("b".into(), Some(5))], (20000, 20001)).is_err());
    }
}
