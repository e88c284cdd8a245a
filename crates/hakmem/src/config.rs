//! Every `HAKMEM_*` switch, read once at start-up without allocating.
//!
//! The table `SWITCHES` is the single list of boxes' switches: name, accepted values,
//! default per profile. `Config::resolve` applies default < profile < environment,
//! reporting invalid values and unknown `HAKMEM_*` names through a callback (the
//! allocator prints one line on stderr; `hakmem config` shows them too).

use crate::os::Decommit;

/// The two presets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Profile {
    /// Seed name MIXED_TINYV3_C7_SAFE: no lean mode, generous caches.
    Speed,
    /// Seed name MIXED_TINYV3_C7_BALANCED (default): lean mode, no prewarm, RSS near a target.
    Balanced,
}

pub const PROFILE_ACCEPTED: &str = "speed|balanced|MIXED_TINYV3_C7_SAFE|MIXED_TINYV3_C7_BALANCED";

impl Profile {
    pub fn parse(s: &str) -> Result<Profile, &'static str> {
        Self::parse_bytes(s.as_bytes()).ok_or(PROFILE_ACCEPTED)
    }
    pub fn parse_bytes(s: &[u8]) -> Option<Profile> {
        match s {
            b"speed" | b"SPEED" | b"MIXED_TINYV3_C7_SAFE" => Some(Profile::Speed),
            b"balanced" | b"BALANCED" | b"MIXED_TINYV3_C7_BALANCED" => Some(Profile::Balanced),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Profile::Speed => "speed",
            Profile::Balanced => "balanced",
        }
    }
}

/// What values a switch accepts.
#[derive(Clone, Copy)]
pub enum Kind {
    Bool,
    /// An unsigned integer up to `max`.
    Uint { max: u32 },
    /// One of the listed words; the value is its index.
    Choice(&'static [&'static str]),
}

/// One box's switch.
pub struct Switch {
    pub name: &'static str,
    pub kind: Kind,
    pub speed: u32,
    pub balanced: u32,
    pub help: &'static str,
}

/// Indices into `SWITCHES` (and `Config::values`).
pub mod sw {
    pub const SS_MEM_LEAN: usize = 0;
    pub const SS_MEM_LEAN_DECOMMIT: usize = 1;
    pub const SS_MEM_LEAN_TARGET_MB: usize = 2;
    pub const SS_RELEASE_POLICY: usize = 3;
    pub const SS_RELEASE_HYSTERESIS_MB: usize = 4;
    pub const WARM_POOL_MB: usize = 5;
    pub const SS_PREWARM: usize = 6;
    pub const ALLOC_PASSDOWN_SSOT: usize = 7;
    pub const C7_ULTRA: usize = 8;
    pub const HUGE_CACHE_MB: usize = 9;
    pub const HARDEN: usize = 10;
    pub const STATS: usize = 11;
    pub const REMOTE_BATCH: usize = 12;
    pub const FASTLANE_KB: usize = 13;
}

pub const DECOMMIT_CHOICES: &[&str] = &["OFF", "DONTNEED", "FREE"];

pub static SWITCHES: [Switch; 14] = [
    Switch { name: "HAKMEM_SS_MEM_LEAN", kind: Kind::Bool, speed: 0, balanced: 1,
        help: "memory-lean mode: cache empty SuperSlabs only up to the target, no prewarm" },
    Switch { name: "HAKMEM_SS_MEM_LEAN_DECOMMIT", kind: Kind::Choice(DECOMMIT_CHOICES), speed: 0, balanced: 0,
        help: "how empty SuperSlabs kept in lean mode give pages back: OFF keep, DONTNEED/FREE madvise" },
    Switch { name: "HAKMEM_SS_MEM_LEAN_TARGET_MB", kind: Kind::Uint { max: 1 << 20 }, speed: 10, balanced: 10,
        help: "lean mode: most MB of empty SuperSlabs kept mapped" },
    Switch { name: "HAKMEM_SS_RELEASE_POLICY", kind: Kind::Bool, speed: 1, balanced: 1,
        help: "release empty SuperSlabs with hysteresis (1) or as soon as the pool is over its cap (0)" },
    Switch { name: "HAKMEM_SS_RELEASE_HYSTERESIS_MB", kind: Kind::Uint { max: 1 << 20 }, speed: 8, balanced: 4,
        help: "release policy: the pool may exceed its cap by this much before it is trimmed back to the cap" },
    Switch { name: "HAKMEM_WARM_POOL_MB", kind: Kind::Uint { max: 1 << 20 }, speed: 64, balanced: 64,
        help: "MB of empty SuperSlabs kept for reuse when lean mode is off" },
    Switch { name: "HAKMEM_SS_PREWARM", kind: Kind::Uint { max: 64 }, speed: 2, balanced: 0,
        help: "SuperSlabs mapped into the warm pool at start-up (lean mode suppresses it)" },
    Switch { name: "HAKMEM_ALLOC_PASSDOWN_SSOT", kind: Kind::Bool, speed: 0, balanced: 0,
        help: "pass the route (class, thread block, heap) computed at malloc entry down to the refill path" },
    Switch { name: "HAKMEM_C7_ULTRA", kind: Kind::Bool, speed: 0, balanced: 0,
        help: "C7 (1 KiB class) short path: a range check before the size-class table" },
    Switch { name: "HAKMEM_HUGE_CACHE_MB", kind: Kind::Uint { max: 1 << 20 }, speed: 64, balanced: 32,
        help: "MB of freed huge mappings kept for reuse instead of unmapped at once" },
    Switch { name: "HAKMEM_HARDEN", kind: Kind::Bool, speed: 0, balanced: 0,
        help: "hardened mode: block-start and double-free checks on every free path" },
    Switch { name: "HAKMEM_STATS", kind: Kind::Bool, speed: 0, balanced: 0,
        help: "print allocator statistics to stderr at exit" },
    Switch { name: "HAKMEM_REMOTE_BATCH", kind: Kind::Uint { max: 4096 }, speed: 32, balanced: 32,
        help: "blocks a thread queues per owner before sending them with one CAS (0/1: send each)" },
    Switch { name: "HAKMEM_FASTLANE_KB", kind: Kind::Uint { max: 1024 }, speed: 64, balanced: 32,
        help: "KiB each class's FastLane may hold before flushing half (16..512 blocks)" },
];

/// `HAKMEM_*` names that are not allocator switches but are known (so not typos).
pub const OTHER_KNOWN: &[&str] = &["HAKMEM_PROFILE", "HAKMEM_LIB"];

/// Where a value came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    Default,
    Profile,
    Env,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::Profile => "profile",
            Source::Env => "environment",
        }
    }
}

/// A problem found while reading the environment.
pub enum Warning<'a> {
    /// `name=value` is not accepted; the default `used` applies.
    Invalid { name: &'a str, value: &'a [u8], accepted: Accepted, used: u32, kind: Kind },
    /// An unknown `HAKMEM_*` name.
    Unknown { name: &'a [u8] },
}

/// Printable description of a switch's accepted values.
#[derive(Clone, Copy)]
pub struct Accepted(pub Kind);

impl core::fmt::Display for Accepted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Kind::Bool => f.write_str("0|1"),
            Kind::Uint { max } => write!(f, "an integer 0..={max}"),
            Kind::Choice(words) => {
                for (i, w) in words.iter().enumerate() {
                    if i > 0 {
                        f.write_str("|")?;
                    }
                    f.write_str(w)?;
                }
                Ok(())
            }
        }
    }
}

/// A value formatted as the user writes it.
pub struct ShowValue(pub Kind, pub u32);

impl core::fmt::Display for ShowValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Kind::Choice(words) => f.write_str(words.get(self.1 as usize).copied().unwrap_or("?")),
            _ => write!(f, "{}", self.1),
        }
    }
}

/// The resolved configuration: one value and one source per switch.
#[derive(Clone, Copy)]
pub struct Config {
    pub profile: Profile,
    pub profile_source: Source,
    pub values: [u32; SWITCHES.len()],
    pub sources: [Source; SWITCHES.len()],
}

fn parse_value(kind: Kind, v: &[u8]) -> Option<u32> {
    match kind {
        Kind::Bool => match v {
            b"0" | b"off" | b"OFF" | b"false" => Some(0),
            b"1" | b"on" | b"ON" | b"true" => Some(1),
            _ => None,
        },
        Kind::Uint { max } => {
            if v.is_empty() || v.len() > 10 {
                return None;
            }
            let mut n: u64 = 0;
            for &b in v {
                if !b.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + (b - b'0') as u64;
            }
            (n <= max as u64).then_some(n as u32)
        }
        Kind::Choice(words) => words.iter().position(|w| w.as_bytes().eq_ignore_ascii_case(v)).map(|i| i as u32),
    }
}

fn is_known(name: &[u8]) -> bool {
    SWITCHES.iter().any(|s| s.name.as_bytes() == name) || OTHER_KNOWN.iter().any(|k| k.as_bytes() == name)
}

impl Config {
    /// Resolve every switch. `get(name)` returns the environment's value; `names` yields every
    /// `HAKMEM_*` name present (for typo detection); `warn` hears about each problem.
    pub fn resolve<'e>(
        get: &dyn Fn(&str) -> Option<&'e [u8]>,
        names: &mut dyn Iterator<Item = &'e [u8]>,
        profile_override: Option<Profile>,
        warn: &mut dyn FnMut(Warning<'_>),
    ) -> Config {
        let (profile, profile_source) = match profile_override {
            Some(p) => (p, Source::Env),
            None => match get("HAKMEM_PROFILE") {
                None => (Profile::Balanced, Source::Default),
                Some(v) => match Profile::parse_bytes(v) {
                    Some(p) => (p, Source::Env),
                    None => {
                        warn(Warning::Invalid {
                            name: "HAKMEM_PROFILE",
                            value: v,
                            accepted: Accepted(Kind::Choice(&["speed", "balanced", "MIXED_TINYV3_C7_SAFE", "MIXED_TINYV3_C7_BALANCED"])),
                            used: 1,
                            kind: Kind::Choice(&["speed", "balanced"]),
                        });
                        (Profile::Balanced, Source::Default)
                    }
                },
            },
        };
        let mut values = [0u32; SWITCHES.len()];
        let mut sources = [Source::Default; SWITCHES.len()];
        for (i, s) in SWITCHES.iter().enumerate() {
            // "default" is the balanced preset (the default profile); the speed profile overrides it.
            let (def, src) = match profile {
                Profile::Balanced => (s.balanced, if profile_source == Source::Env { Source::Profile } else { Source::Default }),
                Profile::Speed => (s.speed, if s.speed != s.balanced { Source::Profile } else { Source::Default }),
            };
            values[i] = def;
            sources[i] = src;
            if let Some(v) = get(s.name) {
                match parse_value(s.kind, v) {
                    Some(x) => {
                        values[i] = x;
                        sources[i] = Source::Env;
                    }
                    None => warn(Warning::Invalid { name: s.name, value: v, accepted: Accepted(s.kind), used: def, kind: s.kind }),
                }
            }
        }
        for name in names {
            if name.starts_with(b"HAKMEM_") && !is_known(name) {
                warn(Warning::Unknown { name });
            }
        }
        Config { profile, profile_source, values, sources }
    }

    pub fn get(&self, i: usize) -> u32 {
        self.values[i]
    }
    pub fn flag(&self, i: usize) -> bool {
        self.values[i] != 0
    }
    pub fn decommit(&self) -> Decommit {
        match self.values[sw::SS_MEM_LEAN_DECOMMIT] {
            1 => Decommit::DontNeed,
            2 => Decommit::Free,
            _ => Decommit::Off,
        }
    }
}

/// Print one warning line (no allocation).
pub fn print_warning(w: &Warning<'_>) {
    match w {
        Warning::Invalid { name, value, accepted, used, kind } => {
            let v = core::str::from_utf8(value).unwrap_or("<not UTF-8>");
            crate::hak_eprintln!("{name}={v:?} is not valid (accepted: {accepted}); using {}", ShowValue(*kind, *used));
        }
        Warning::Unknown { name } => {
            let n = core::str::from_utf8(name).unwrap_or("<not UTF-8>");
            crate::hak_eprintln!("unknown variable {n} ignored (see `hakmem config` for the known HAKMEM_* switches)");
        }
    }
}

// --- reading the process environment without allocating -------------------------------

extern "C" {
    static environ: *const *const libc::c_char;
}

/// Bytes of a NUL-terminated C string.
///
/// # Safety
/// `p` must point to a NUL-terminated string that outlives the returned slice.
unsafe fn c_bytes<'a>(p: *const libc::c_char) -> &'a [u8] {
    core::slice::from_raw_parts(p as *const u8, libc::strlen(p))
}

/// Look a variable up in `environ` (glibc's getenv does the same walk; doing it here keeps
/// the allocator independent of libc internals and never allocates).
pub fn env_get(name: &str) -> Option<&'static [u8]> {
    env_entries().find_map(|(n, v)| (n == name.as_bytes()).then_some(v))
}

/// Every `NAME=VALUE` entry of the environment as (name, value).
pub fn env_entries() -> impl Iterator<Item = (&'static [u8], &'static [u8])> {
    // SAFETY: environ is a NULL-terminated array of NUL-terminated strings, valid for the
    // life of the process while nobody calls setenv concurrently (we read it once, at init).
    let mut p = unsafe { environ };
    core::iter::from_fn(move || unsafe {
        if p.is_null() || (*p).is_null() {
            return None;
        }
        let e = c_bytes(*p);
        p = p.add(1);
        let eq = e.iter().position(|&b| b == b'=').unwrap_or(e.len());
        Some((&e[..eq], e.get(eq + 1..).unwrap_or(&[])))
    })
}

/// Resolve the configuration from the real environment, printing warnings.
pub fn from_process_env() -> Config {
    Config::resolve(&|n| env_get(n), &mut env_entries().map(|(n, _)| n), None, &mut |w| print_warning(&w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(env: &[(&str, &str)], over: Option<Profile>) -> (Config, usize) {
        let owned: Vec<(&[u8], &[u8])> = env.iter().map(|(a, b)| (a.as_bytes(), b.as_bytes())).collect();
        let mut warnings = 0;
        let c = Config::resolve(
            &|n| owned.iter().find(|(k, _)| *k == n.as_bytes()).map(|(_, v)| *v),
            &mut owned.iter().map(|(k, _)| *k),
            over,
            &mut |_| warnings += 1,
        );
        (c, warnings)
    }

    #[test]
    fn balanced_is_the_default_profile() {
        let (c, w) = resolve(&[], None);
        assert_eq!(w, 0);
        assert_eq!(c.profile, Profile::Balanced);
        assert!(c.flag(sw::SS_MEM_LEAN));
        assert_eq!(c.get(sw::SS_MEM_LEAN_TARGET_MB), 10);
        assert_eq!(c.decommit(), Decommit::Off);
        assert_eq!(c.sources[sw::SS_MEM_LEAN], Source::Default);
    }

    #[test]
    fn precedence_default_profile_env() {
        let (c, _) = resolve(&[("HAKMEM_PROFILE", "speed")], None);
        assert_eq!(c.profile, Profile::Speed);
        assert!(!c.flag(sw::SS_MEM_LEAN));
        assert_eq!(c.sources[sw::SS_MEM_LEAN], Source::Profile);
        let (c, _) = resolve(&[("HAKMEM_PROFILE", "MIXED_TINYV3_C7_SAFE"), ("HAKMEM_SS_MEM_LEAN", "1")], None);
        assert_eq!(c.profile, Profile::Speed);
        assert!(c.flag(sw::SS_MEM_LEAN));
        assert_eq!(c.sources[sw::SS_MEM_LEAN], Source::Env);
        let (c, _) = resolve(&[("HAKMEM_PROFILE", "MIXED_TINYV3_C7_BALANCED")], Some(Profile::Speed));
        assert_eq!(c.profile, Profile::Speed, "explicit override beats the environment");
    }

    #[test]
    fn invalid_values_warn_and_use_the_default() {
        let (c, w) = resolve(&[("HAKMEM_SS_MEM_LEAN", "maybe"), ("HAKMEM_SS_MEM_LEAN_TARGET_MB", "-3")], None);
        assert_eq!(w, 2);
        assert!(c.flag(sw::SS_MEM_LEAN));
        assert_eq!(c.get(sw::SS_MEM_LEAN_TARGET_MB), 10);
        let (c, w) = resolve(&[("HAKMEM_SS_MEM_LEAN_DECOMMIT", "dontneed")], None);
        assert_eq!(w, 0);
        assert_eq!(c.decommit(), Decommit::DontNeed);
        let (_, w) = resolve(&[("HAKMEM_PROFILE", "fast")], None);
        assert_eq!(w, 1);
    }

    #[test]
    fn unknown_names_warn() {
        let (_, w) = resolve(&[("HAKMEM_SS_MEM_LAEN", "1"), ("HAKMEM_LIB", "/x"), ("PATH", "/bin")], None);
        assert_eq!(w, 1);
    }

    #[test]
    fn tuning_default_is_the_balanced_profile() {
        // Tuning::DEFAULT (in force before the environment is read) must not drift from
        // the switch table.
        let (c, _) = resolve(&[], None);
        let t = Tuning::from_config(&c);
        let d = Tuning::DEFAULT;
        assert_eq!(format!("{t:?}"), format!("{d:?}"));
    }

    #[test]
    fn uint_parsing_rejects_garbage() {
        let k = Kind::Uint { max: 100 };
        assert_eq!(parse_value(k, b"42"), Some(42));
        assert_eq!(parse_value(k, b"101"), None);
        assert_eq!(parse_value(k, b""), None);
        assert_eq!(parse_value(k, b"4x"), None);
        assert_eq!(parse_value(k, b"99999999999"), None);
    }
}

// --- the frozen tuning the allocator reads ------------------------------------------------

/// Plain values derived once from `Config`; read by the allocator without locks.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    pub profile: Profile,
    pub lean: bool,
    pub decommit: Decommit,
    pub lean_target_bytes: usize,
    pub release_policy: bool,
    pub hysteresis_bytes: usize,
    pub warm_pool_bytes: usize,
    pub prewarm: u32,
    pub passdown: bool,
    pub c7_ultra: bool,
    pub huge_cache_bytes: usize,
    pub harden: bool,
    pub stats: bool,
    pub remote_batch: u32,
    pub lane_kib: u32,
}

const MB: usize = 1 << 20;

impl Tuning {
    pub const DEFAULT: Tuning = Tuning {
        profile: Profile::Balanced,
        lean: true,
        decommit: Decommit::Off,
        lean_target_bytes: 10 * MB,
        release_policy: true,
        hysteresis_bytes: 4 * MB,
        warm_pool_bytes: 64 * MB,
        prewarm: 0,
        passdown: false,
        c7_ultra: false,
        huge_cache_bytes: 32 * MB,
        harden: false,
        stats: false,
        remote_batch: 32,
        lane_kib: 32,
    };

    pub fn from_config(c: &Config) -> Tuning {
        Tuning {
            profile: c.profile,
            lean: c.flag(sw::SS_MEM_LEAN),
            decommit: c.decommit(),
            lean_target_bytes: c.get(sw::SS_MEM_LEAN_TARGET_MB) as usize * MB,
            release_policy: c.flag(sw::SS_RELEASE_POLICY),
            hysteresis_bytes: c.get(sw::SS_RELEASE_HYSTERESIS_MB) as usize * MB,
            warm_pool_bytes: c.get(sw::WARM_POOL_MB) as usize * MB,
            prewarm: c.get(sw::SS_PREWARM),
            passdown: c.flag(sw::ALLOC_PASSDOWN_SSOT),
            c7_ultra: c.flag(sw::C7_ULTRA),
            huge_cache_bytes: c.get(sw::HUGE_CACHE_MB) as usize * MB,
            harden: c.flag(sw::HARDEN),
            stats: c.flag(sw::STATS),
            remote_batch: c.get(sw::REMOTE_BATCH),
            lane_kib: c.get(sw::FASTLANE_KB).max(1),
        }
    }
}

static mut TUNING: Tuning = Tuning::DEFAULT;

/// The frozen tuning. Written once by `init::global_init` before any heap exists.
#[inline(always)]
pub fn tuning() -> &'static Tuning {
    // SAFETY: TUNING is written only during global init (single thread, before use) and
    // by tests through `set_tuning_for_tests`; afterwards it is read-only.
    unsafe { &*core::ptr::addr_of!(TUNING) }
}

/// Install the tuning (global init only).
///
/// # Safety
/// No other thread may be reading the tuning.
pub unsafe fn set_tuning(t: Tuning) {
    *core::ptr::addr_of_mut!(TUNING) = t;
}
