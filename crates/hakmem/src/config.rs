//! Every `HAKMEM_*` switch, read once at start-up without allocating.
//!
//! Public for the tools (`hakmem config`, `hakmem ab` validate switches with the same
//! table and parser the allocator uses): [`SWITCHES`], [`Config::resolve`], [`Profile`].
//!
//! The table `SWITCHES` (generated in `boxes`) is the single list of switches: name,
//! accepted values, default per profile. `Config::resolve` applies default < profile < environment,
//! reporting invalid values and unknown `HAKMEM_*` names through a callback (the
//! allocator prints one line on stderr; `hakmem config` shows them too).

use crate::size_class::{fastlane_limit, NCLASS};

/// How released memory is given back without unmapping it (`HAKMEM_SS_MEM_LEAN_DECOMMIT`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decommit {
    /// Keep the pages (fastest reuse, RSS stays).
    Off,
    /// `madvise(MADV_DONTNEED)`: pages dropped now, re-faulted as zero pages.
    DontNeed,
    /// `madvise(MADV_FREE)`: pages dropped lazily under memory pressure.
    Free,
}

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
    Uint {
        max: u32,
    },
    /// One of the listed words; the value is its index.
    Choice(&'static [&'static str]),
    /// A file path (any non-empty value, at most `PATH_MAX - 1` bytes); the value is 1
    /// when set. The acting code reads the text itself (`config::env_get`) at init.
    Path,
}

/// One box's switch.
pub struct Switch {
    pub name: &'static str,
    pub kind: Kind,
    pub speed: u32,
    pub balanced: u32,
    pub help: &'static str,
}

pub const DECOMMIT_CHOICES: &[&str] = &["OFF", "DONTNEED", "FREE"];
/// Values of `HAKMEM_CLASS_DENSITY` (classes per doubling), by index.
pub const DENSITY_CHOICES: &[&str] = &["4", "8"];

/// `HAKMEM_PROF_SIGNAL`: the signal that makes the prof box write its profile.
pub const SIGNAL_CHOICES: &[&str] = &["OFF", "USR1", "USR2", "HUP", "URG", "WINCH"];

/// Longest path a `Kind::Path` switch accepts (with its NUL).
pub const PATH_MAX: usize = 4096;

pub use crate::boxes::{sw, COUNT, SWITCHES};

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
            Kind::Path => f.write_str("a file path"),
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
            Kind::Path => f.write_str(if self.1 != 0 { "(set)" } else { "(unset)" }),
            _ => write!(f, "{}", self.1),
        }
    }
}

/// The resolved configuration: one value and one source per switch.
#[derive(Clone, Copy)]
pub struct Config {
    pub profile: Profile,
    pub profile_source: Source,
    pub values: [u32; COUNT],
    pub sources: [Source; COUNT],
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
        Kind::Path => (!v.is_empty() && v.len() < PATH_MAX).then_some(1),
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
                            accepted: Accepted(Kind::Choice(&[
                                "speed",
                                "balanced",
                                "MIXED_TINYV3_C7_SAFE",
                                "MIXED_TINYV3_C7_BALANCED",
                            ])),
                            used: 1,
                            kind: Kind::Choice(&["speed", "balanced"]),
                        });
                        (Profile::Balanced, Source::Default)
                    }
                },
            },
        };
        let mut values = [0u32; COUNT];
        let mut sources = [Source::Default; COUNT];
        for (i, s) in SWITCHES.iter().enumerate() {
            // "default" is the balanced preset (the default profile); the speed profile overrides it.
            let (def, src) = match profile {
                Profile::Balanced => {
                    (s.balanced, if profile_source == Source::Env { Source::Profile } else { Source::Default })
                }
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
                    None => warn(Warning::Invalid {
                        name: s.name,
                        value: v,
                        accepted: Accepted(s.kind),
                        used: def,
                        kind: s.kind,
                    }),
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
        decommit_of(self.values[sw::SS_MEM_LEAN_DECOMMIT])
    }
}

/// Print one warning line (no allocation).
pub(crate) fn print_warning(w: &Warning<'_>) {
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
pub(crate) fn env_get(name: &str) -> Option<&'static [u8]> {
    env_entries().find_map(|(n, v)| (n == name.as_bytes()).then_some(v))
}

/// Every `NAME=VALUE` entry of the environment as (name, value).
pub(crate) fn env_entries() -> impl Iterator<Item = (&'static [u8], &'static [u8])> {
    // SAFETY: environ is a NULL-terminated array of NUL-terminated strings, valid for the
    // life of the process while nobody calls setenv concurrently (we read it once, at init).
    let mut p = unsafe { environ };
    // SAFETY: as above; each entry is read while it is still the current one.
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
pub(crate) fn from_process_env() -> Config {
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
        let c7 = crate::size_class::C7;
        assert_eq!(d.lane_limits[c7], 32, "balanced: 32 KiB per lane");
        let (c, _) = resolve(&[("HAKMEM_C7_ULTRA", "1")], Some(Profile::Speed));
        assert_eq!(Tuning::from_config(&c).lane_limits[c7], 256, "speed 64 KiB, C7 ultra x4");
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

const MB: usize = 1 << 20;

/// Values frozen once from `Config`; read by the allocator without locks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tuning {
    pub profile: Profile,
    /// One value per switch, indexed by `sw::*`.
    pub values: [u32; COUNT],
    /// FastLane limit per class (blocks), from `HAKMEM_FASTLANE_KB` and `HAKMEM_C7_ULTRA`.
    pub lane_limits: [u32; NCLASS],
}

/// The lane limits for a budget of `lane_kib` per class; the C7-ultra box deepens C7.
const fn lane_limits(lane_kib: u32, c7_ultra: bool) -> [u32; NCLASS] {
    let mut t = [0u32; NCLASS];
    let mut c = 0;
    while c < NCLASS {
        t[c] = fastlane_limit(c, lane_kib * 1024);
        c += 1;
    }
    if c7_ultra {
        t[crate::size_class::C7] *= 4;
    }
    t
}

const fn balanced_values() -> [u32; COUNT] {
    let mut v = [0u32; COUNT];
    let mut i = 0;
    while i < COUNT {
        v[i] = SWITCHES[i].balanced;
        i += 1;
    }
    v
}

impl Tuning {
    /// In force before the environment is read: the balanced profile.
    pub const DEFAULT: Tuning = {
        let values = balanced_values();
        Tuning {
            profile: Profile::Balanced,
            values,
            lane_limits: lane_limits(values[sw::FASTLANE_KB], values[sw::C7_ULTRA] != 0),
        }
    };

    pub fn from_config(c: &Config) -> Tuning {
        let mut values = c.values;
        values[sw::FASTLANE_KB] = values[sw::FASTLANE_KB].max(1);
        // The lane guard checks the lane mark, which the free checks write.
        if values[sw::LANE_GUARD] != 0 {
            values[sw::FREE_CHECK] = 1;
        }
        // Kept blocks need the lane mark (double frees of a kept block) and the plain free
        // paths: hardened mode checks every free against the owner's slab.
        if values[sw::HARDEN] != 0 || values[sw::FREE_CHECK] == 0 {
            values[sw::REMOTE_KEEP] = 0;
        }
        Tuning {
            profile: c.profile,
            values,
            lane_limits: lane_limits(values[sw::FASTLANE_KB], values[sw::C7_ULTRA] != 0),
        }
    }

    /// Value of switch `i`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> u32 {
        self.values[i]
    }
    /// Switch `i` is on.
    #[inline(always)]
    pub fn on(&self, i: usize) -> bool {
        self.values[i] != 0
    }
    /// Switch `i` (a size in MB) in bytes.
    pub fn mb(&self, i: usize) -> usize {
        self.values[i] as usize * MB
    }
    pub fn decommit(&self) -> Decommit {
        decommit_of(self.values[sw::SS_MEM_LEAN_DECOMMIT])
    }
}

fn decommit_of(v: u32) -> Decommit {
    match v {
        1 => Decommit::DontNeed,
        2 => Decommit::Free,
        _ => Decommit::Off,
    }
}

static mut TUNING: Tuning = Tuning::DEFAULT;

/// The frozen tuning. Written once by `lifecycle::global_init` before any heap exists.
#[inline(always)]
pub(crate) fn tuning() -> &'static Tuning {
    // SAFETY: TUNING is written only during global init (one thread, before any heap
    // exists and so before any other reader can run); afterwards it is read-only.
    unsafe { &*core::ptr::addr_of!(TUNING) }
}

/// Install the tuning (global init only).
///
/// # Safety
/// No other thread may be reading the tuning.
pub(crate) unsafe fn set_tuning(t: Tuning) {
    *core::ptr::addr_of_mut!(TUNING) = t;
}
