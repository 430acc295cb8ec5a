//! The scenarios: fixed, named descriptions of a market (how many experts,
//! how much time they offer, how many seekers come and how they behave).
//!
//! A scenario is data, not code, so the same engine runs every one of them and
//! a test can shrink one (`Scenario { days: 2, ..Scenario::hotline() }`)
//! without a second code path.

/// One market to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: &'static str,
    /// One line for the report header.
    pub summary: &'static str,
    pub experts: usize,
    /// Days of seeker arrivals; experts' slots extend one look-ahead beyond.
    pub days: u32,
    /// Expected seekers with no known region (served nationally) ÷ slots
    /// starting within the simulated days. Above 1 the market is short of
    /// supply overall; below 1 it is short only where arrivals peak
    /// (evenings).
    pub demand_ratio: f64,
    /// Where experts live and how many seekers each region sends, on top of
    /// the national ones. Empty: no expert or seeker has a region, and every
    /// slate is national (as for a seeker who gave none).
    pub regions: Vec<RegionalMarket>,
    /// Weekly hours an expert offers are log-normal: median…
    pub median_weekly_hours: f64,
    /// …and spread (σ of the log), so a few give far more time than most.
    pub weekly_hours_sigma: f64,
    pub seekers: SeekerModel,
}

/// One region of a regional scenario: its share of the experts and its own
/// demand, so one region can be overwhelmed while the others are not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionalMarket {
    /// ISO 3166-2:CN code, one of `region::regions()`.
    pub code: &'static str,
    /// Share of the scenario's experts who live here (relative to the other
    /// regions' shares).
    pub expert_share: f64,
    /// Expected seekers from here ÷ slots this region's experts offer
    /// within the simulated days: above 1, more than local experts can take.
    pub demand_ratio: f64,
}

/// How seekers behave; the same in every scenario unless one says otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct SeekerModel {
    /// Share of seekers with the `popular` taste; the rest have `earliest`.
    pub popular_share: f64,
    pub popular: Taste,
    pub earliest: Taste,
    /// How long a seeker will wait for a call, in hours, with the share of
    /// seekers who wait that long; slots later than that are not considered.
    pub patience_hours: [(f64, f64); 3],
    /// Median seconds from seeing a slate to picking a slot: the race window
    /// in which another seeker can take the same slot.
    pub decide_median_secs: f64,
    /// σ of the log of that time (log-normal: most are quick, a few dawdle).
    pub decide_sigma: f64,
    /// A retry after a collision is quicker: the seeker already knows what
    /// they want.
    pub retry_speedup: f64,
    /// Seconds between "slot taken" and asking for a fresh slate.
    pub retry_delay_secs: i64,
    /// Chance that a seeker told "slot taken" leaves instead of retrying:
    /// someone reaching out in distress is easily turned away.
    pub leave_after_collision: f64,
    /// Collisions after which every seeker gives up.
    pub max_collisions: u32,
}

/// How a seeker chooses among the slots a slate shows them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Taste {
    /// Takes the soonest slot shown; among slots starting at the same time,
    /// the expert they like best (rating plus a personal opinion, normal
    /// with this σ). Someone in distress who wants to talk now.
    Earliest { rating_noise: f64 },
    /// Weighs rating against waiting: utility `rating_weight · (rating − 4)
    /// − hours_until_start / hours_per_unit` plus Gumbel noise (multinomial
    /// logit), so choices lean to well-rated experts without all being equal.
    Popular {
        rating_weight: f64,
        hours_per_unit: f64,
    },
}

impl Default for SeekerModel {
    fn default() -> Self {
        Self {
            popular_share: 0.4,
            popular: Taste::Popular {
                rating_weight: 3.0,
                hours_per_unit: 12.0,
            },
            earliest: Taste::Earliest { rating_noise: 0.3 },
            patience_hours: [(3.0, 0.30), (24.0, 0.40), (72.0, 0.30)],
            decide_median_secs: 90.0,
            decide_sigma: 0.7,
            retry_speedup: 0.5,
            retry_delay_secs: 5,
            leave_after_collision: 0.25,
            max_collisions: 3,
        }
    }
}

impl Scenario {
    /// The original hotline: 200 volunteers, a week, as many seekers as slots
    /// over the week, so the evening peaks (2.5× the mean arrival rate) run
    /// well above capacity and the small hours well below.
    pub fn hotline() -> Self {
        Self {
            name: "hotline",
            summary: "200 volunteers; seekers = the week's slots, evening peaks 2.5x",
            experts: 200,
            days: 7,
            demand_ratio: 1.0,
            median_weekly_hours: 6.0,
            weekly_hours_sigma: 0.55,
            regions: Vec::new(),
            seekers: SeekerModel::default(),
        }
    }

    /// Supply scarce: a region with few volunteers and 2.5 seekers per slot.
    pub fn scarce() -> Self {
        Self {
            name: "scarce",
            summary: "60 volunteers; demand 2.5x the week's slots",
            experts: 60,
            demand_ratio: 2.5,
            ..Self::hotline()
        }
    }

    /// Nationwide: 10,000 experts, same market shape as the hotline, over
    /// two days so the whole run stays within a minute (arrivals scale with
    /// the slots in those days).
    pub fn large() -> Self {
        Self {
            name: "large",
            summary: "10,000 experts; hotline market shape over 2 days",
            experts: 10_000,
            days: 2,
            ..Self::hotline()
        }
    }

    /// February 2020: Hubei's seekers are five times what Hubei's own
    /// volunteers can take, while the other regions' seekers need half their
    /// local volunteers' time. Shows whether local-first slates still send
    /// Hubei's overflow to the rest of the country, and what that costs the
    /// other regions' seekers. 200 volunteers, 40 in each region; no seeker
    /// without a region.
    pub fn hubei2020() -> Self {
        let region = |code, demand_ratio| RegionalMarket {
            code,
            expert_share: 0.2,
            demand_ratio,
        };
        Self {
            name: "hubei2020",
            summary: "200 volunteers in 5 regions; Hubei's seekers 5x its slots, elsewhere 0.5x",
            demand_ratio: 0.0,
            regions: vec![
                region("CN-HB", 5.0),
                region("CN-HN", 0.5),
                region("CN-BJ", 0.5),
                region("CN-SH", 0.5),
                region("CN-GD", 0.5),
            ],
            ..Self::hotline()
        }
    }

    pub fn all() -> Vec<Self> {
        vec![
            Self::hotline(),
            Self::scarce(),
            Self::large(),
            Self::hubei2020(),
        ]
    }

    pub fn named(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|s| s.name == name)
    }
}
