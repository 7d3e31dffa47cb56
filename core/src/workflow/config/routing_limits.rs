//! Checks that teams (`routing.teams`) and single agents (`routing.agents`) share: skills and
//! limits of open conversations.

use super::errors::{index, quoted, Errors};

/// Where the routing section sits in the configuration, for error paths.
pub(super) const PATH: &str = "routing";
/// Most skills per team or agent, and bytes per skill.
pub const MAX_SKILLS: usize = 20;
pub const MAX_SKILL_BYTES: usize = 64;
/// Highest `max_open`.
pub const MAX_OPEN_LIMIT: u32 = 1000;

/// `n` as a limit of open conversations, if it is 1 to [`MAX_OPEN_LIMIT`].
pub(super) fn check_max_open(n: u64, path: &str, errors: &mut Errors) -> Option<u32> {
    if (1..=u64::from(MAX_OPEN_LIMIT)).contains(&n) {
        return u32::try_from(n).ok();
    }
    errors.push(
        path,
        format!("{n}; give 1 to {MAX_OPEN_LIMIT}: how many conversations one agent may hold open at once"),
    );
    None
}

pub(super) fn check_skills(skills: &[String], path: &str, errors: &mut Errors) -> bool {
    if skills.len() > MAX_SKILLS {
        errors.push(path, format!("{} skills; the limit is {MAX_SKILLS}", skills.len()));
        return false;
    }
    let mut ok = true;
    for (i, s) in skills.iter().enumerate() {
        let problem = if s.is_empty() || s.len() > MAX_SKILL_BYTES {
            Some(format!("must be 1 to {MAX_SKILL_BYTES} bytes"))
        } else if s.chars().any(char::is_control) || s.trim() != s {
            Some("may not hold control characters or surrounding whitespace".to_owned())
        } else if skills[..i].contains(s) {
            Some("is listed twice".to_owned())
        } else {
            None
        };
        if let Some(p) = problem {
            errors.push(index(path, i), format!("skill {} {p}", quoted(s)));
            ok = false;
        }
    }
    ok
}
