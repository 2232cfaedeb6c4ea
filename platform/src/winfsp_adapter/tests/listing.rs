use super::*;

fn names_fixture() -> Fixture {
    let f = fixture(true);
    for n in ["b", "A", "c", "_z"] {
        drop(f.create_file(&format!(r"\empty\{n}")).unwrap());
    }
    f
}

#[test]
fn listings_are_sorted_with_dots_first_but_not_at_the_root() {
    let f = names_fixture();
    assert_eq!(f.list(r"\empty", None), [".", "..", "A", "b", "c", "_z"]);
    assert_eq!(f.list(r"\", None), ["d", "empty"]);
    let exact = fixture(false);
    for n in ["b", "A"] {
        drop(exact.create_file(&format!(r"\empty\{n}")).unwrap());
    }
    assert_eq!(exact.list(r"\empty", None), [".", "..", "A", "b"], "ordinal order");
}

#[test]
fn listings_resume_after_the_marker() {
    let f = names_fixture();
    assert_eq!(f.list(r"\empty", Some(".")), ["..", "A", "b", "c", "_z"]);
    assert_eq!(f.list(r"\empty", Some("..")), ["A", "b", "c", "_z"]);
    assert_eq!(f.list(r"\empty", Some("B")), ["c", "_z"], "markers compare without case");
    assert_eq!(f.list(r"\empty", Some("bb")), ["c", "_z"], "a marker that is gone still places the listing");
    assert!(f.list(r"\empty", Some("~")).is_empty());
}

#[test]
fn a_listing_in_pieces_returns_every_entry_once() {
    let f = names_fixture();
    let a = &f.adapter;
    let h = f.open(r"\empty").unwrap().handle;
    let mut seen: Vec<String> = Vec::new();
    let mut marker: Option<Vec<u16>> = None;
    loop {
        let mut batch = Vec::new();
        a.read_dir(&h, marker.as_deref(), |i| {
            batch.push(i.name.clone());
            batch.len() < 2
        })
        .unwrap();
        if batch.is_empty() {
            break;
        }
        if marker.is_none() {
            // Entries made after a listing started are not in it...
            drop(f.create_file(r"\empty\0new").unwrap());
        }
        marker = batch.last().cloned();
        seen.extend(batch.iter().map(|n| String::from_utf16_lossy(n)));
    }
    assert_eq!(seen, [".", "..", "A", "b", "c", "_z"]);
    // ...but in the next one.
    assert!(f.list(r"\empty", None).contains(&"0new".to_string()));
}

#[test]
fn listed_entries_carry_their_information() {
    let f = fixture(true);
    let h = f.open(r"\d").unwrap().handle;
    let mut items = Vec::new();
    f.adapter
        .read_dir(&h, None, |i| {
            items.push(i.clone());
            true
        })
        .unwrap();
    let get = |n: &str| items.iter().find(|i| i.name == w(n)).unwrap().info;
    assert_eq!(get("f.txt").file_size, 5);
    assert_ne!(get("sub").file_attributes & info::FILE_ATTRIBUTE_DIRECTORY, 0);
    assert_ne!(get("ro.txt").file_attributes & info::FILE_ATTRIBUTE_READONLY, 0);
}
