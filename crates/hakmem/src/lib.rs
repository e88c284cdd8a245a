//! hakmem: a general-purpose memory allocator.
pub mod config {
    pub enum Profile { Speed, Balanced }
    impl Profile {
        pub fn parse(s: &str) -> Result<Profile, &'static str> {
            match s {
                "speed" | "MIXED_TINYV3_C7_SAFE" => Ok(Profile::Speed),
                "balanced" | "MIXED_TINYV3_C7_BALANCED" => Ok(Profile::Balanced),
                _ => Err("speed, balanced, MIXED_TINYV3_C7_SAFE, MIXED_TINYV3_C7_BALANCED"),
            }
        }
    }
}
