//! Regions and areas: the provincial-level divisions Anxin serves, by their
//! ISO 3166-2:CN codes (`CN-HB`), each in one of five areas. The list itself
//! is data (the `regions` table, shipped by a migration); this module reads a
//! region as people write it and says how near an expert is to a seeker.
use crate::error::ValidationError;
use serde::{Deserialize, Serialize};

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum Area as "area" {
        North = "north",
        East = "east",
        Central = "central",
        South = "south",
        West = "west",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Region {
    /// `CN-HB`.
    pub code: String,
    /// `hubei`: lower-case pinyin, no spaces.
    #[serde(skip)]
    pub pinyin: String,
    pub name_zh: String,
    pub name_en: String,
    pub area: Area,
    /// Taking bookings (the phased roll-out).
    pub open: bool,
}

impl Region {
    /// An open region: how the sim and tests build the rows the `regions`
    /// table holds.
    pub fn open(code: &str, pinyin: &str, zh: &str, en: &str, area: Area) -> Self {
        Region {
            code: code.into(),
            pinyin: pinyin.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            area,
            open: true,
        }
    }
}

/// How near an expert is to a seeker: the slate fills from the nearest
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Nearness {
    /// The seeker's own region.
    Local,
    /// Another region of the seeker's area.
    Area,
    /// Anywhere else (or the seeker's region is not known).
    Country,
}

/// Every region, as read from the `regions` table.
#[derive(Debug, Clone, Default)]
pub struct Regions(Vec<Region>);

/// `raw` folded for comparison: lower case, without spaces, dashes or
/// underscores.
fn folded(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

impl Regions {
    pub fn new(list: Vec<Region>) -> Self {
        Self(list)
    }

    pub fn all(&self) -> &[Region] {
        &self.0
    }

    /// The region with this exact code.
    pub fn get(&self, code: &str) -> Option<&Region> {
        self.0.iter().find(|r| r.code == code)
    }

    /// The region `raw` names: its code or pinyin in any case and spacing,
    /// its English name, or its Chinese name with or without 省, 市 or
    /// 自治区 after it. Anything else is refused, naming `field`.
    pub fn resolve(&self, field: &str, raw: &str) -> Result<&Region, ValidationError> {
        let f = folded(raw);
        let trimmed = raw.trim();
        self.0
            .iter()
            .find(|r| {
                f == folded(&r.code) || f == r.pinyin || f == folded(&r.name_en)
            })
            .or_else(|| {
                // The longest Chinese name first: 内蒙古 before a shorter one.
                let mut by_name: Vec<&Region> = self
                    .0
                    .iter()
                    .filter(|r| !r.name_zh.is_empty() && trimmed.starts_with(&r.name_zh))
                    .collect();
                by_name.sort_by_key(|r| std::cmp::Reverse(r.name_zh.chars().count()));
                by_name.into_iter().next()
            })
            .ok_or_else(|| {
                ValidationError::new(
                    field,
                    "is not a region: give an ISO 3166-2:CN code such as CN-HB or its pinyin name such as hubei (GET /v1/regions lists them)",
                )
            })
    }

    /// How near an expert of `expert_region` is to a seeker of `seeker`.
    pub fn nearness(&self, seeker: Option<&Region>, expert_region: &str) -> Nearness {
        match seeker {
            Some(s) if s.code == expert_region => Nearness::Local,
            Some(s) if self.get(expert_region).is_some_and(|e| e.area == s.area) => Nearness::Area,
            _ => Nearness::Country,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str, pinyin: &str, zh: &str, en: &str, area: Area) -> Region {
        Region::open(code, pinyin, zh, en, area)
    }

    fn some() -> Regions {
        Regions::new(vec![
            region("CN-HB", "hubei", "湖北", "Hubei", Area::Central),
            region("CN-HN", "hunan", "湖南", "Hunan", Area::Central),
            region(
                "CN-NM",
                "neimenggu",
                "内蒙古",
                "Inner Mongolia",
                Area::North,
            ),
            region("CN-SH", "shanghai", "上海", "Shanghai", Area::East),
        ])
    }

    #[test]
    fn a_region_is_read_as_people_write_it() {
        let regions = some();
        for raw in [
            "CN-HB",
            "cn-hb",
            "hubei",
            "Hubei",
            " HUBEI ",
            "湖北",
            "湖北省",
        ] {
            assert_eq!(
                regions.resolve("region", raw).unwrap().code,
                "CN-HB",
                "{raw}"
            );
        }
        for raw in [
            "Inner Mongolia",
            "innermongolia",
            "内蒙古自治区",
            "neimenggu",
        ] {
            assert_eq!(
                regions.resolve("region", raw).unwrap().code,
                "CN-NM",
                "{raw}"
            );
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_field() {
        let regions = some();
        for raw in ["", "hub", "CN-XX", "Atlantis", "湖"] {
            let e = regions.resolve("region", raw).unwrap_err();
            assert_eq!(e.field, "region", "{raw}");
        }
    }

    #[test]
    fn nearness_is_the_region_then_its_area_then_the_country() {
        let regions = some();
        let hubei = regions.get("CN-HB");
        assert_eq!(regions.nearness(hubei, "CN-HB"), Nearness::Local);
        assert_eq!(regions.nearness(hubei, "CN-HN"), Nearness::Area);
        assert_eq!(regions.nearness(hubei, "CN-SH"), Nearness::Country);
        assert_eq!(regions.nearness(None, "CN-HB"), Nearness::Country);
        assert_eq!(regions.nearness(hubei, "somewhere"), Nearness::Country);
    }
}
