//! The regions the sim places experts and seekers in: five real provincial
//! divisions, two of them in one area, so a seeker's slate has all three
//! tiers of `domain::region::Nearness` to fill from (their region, its area,
//! the rest of the country). Built as production reads them from the
//! `regions` table, all open.
use anxin_domain::region::{Area, Region, Regions};

/// Hubei and Hunan (central), Beijing (north), Shanghai (east), Guangdong
/// (south).
pub fn regions() -> Regions {
    let region = Region::open;
    Regions::new(vec![
        region("CN-HB", "hubei", "湖北", "Hubei", Area::Central),
        region("CN-HN", "hunan", "湖南", "Hunan", Area::Central),
        region("CN-BJ", "beijing", "北京", "Beijing", Area::North),
        region("CN-SH", "shanghai", "上海", "Shanghai", Area::East),
        region("CN-GD", "guangdong", "广东", "Guangdong", Area::South),
    ])
}
