//! Who wins when both sides of a link changed since the last sync.

use chrono::{DateTime, Utc};

use crate::flow::Prefer;

/// Whether the side being read (`incoming`, travelling through a direction of a flow) wins
/// over the other side. `forward`: the direction is the flow's own (its source is the
/// incoming side). Newest wins ties for the incoming side.
pub fn incoming_wins(
    prefer: Prefer,
    forward: bool,
    incoming_at: DateTime<Utc>,
    other_at: DateTime<Utc>,
) -> bool {
    match prefer {
        Prefer::Source => forward,
        Prefer::Target => !forward,
        Prefer::Newest => incoming_at >= other_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn rules() {
        let t = Utc::now();
        let later = t + TimeDelta::seconds(1);
        assert!(incoming_wins(Prefer::Newest, true, later, t));
        assert!(!incoming_wins(Prefer::Newest, false, t, later));
        assert!(incoming_wins(Prefer::Source, true, t, later));
        assert!(!incoming_wins(Prefer::Source, false, later, t));
        assert!(incoming_wins(Prefer::Target, false, t, later));
    }
}
