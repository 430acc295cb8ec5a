//! The words Anxin shows people, defined once: every code a page, the demo
//! data, an application form or a host app may show, with its Chinese and
//! English label. `GET /v1/vocabulary?lang=` serves these lists; the pages
//! read them from there rather than keeping copies.

/// One code and what people read for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub code: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

const fn term(code: &'static str, zh: &'static str, en: &'static str) -> Term {
    Term { code, zh, en }
}

/// An optional code from a request, trimmed, checked against its list: 422
/// naming `field` when it is not one of the list's codes.
pub fn known_code(
    field: &str,
    value: Option<&str>,
    known: &[Term],
) -> Result<Option<String>, crate::error::ValidationError> {
    value
        .map(|c| {
            let c = c.trim();
            if known.iter().any(|t| t.code == c) {
                Ok(c.to_owned())
            } else {
                Err(crate::error::ValidationError::new(
                    field,
                    "must be one of the codes GET /v1/vocabulary lists",
                ))
            }
        })
        .transpose()
}

/// What experts help with (an expert's `specialties`, a seeker's `topic`).
pub const TOPICS: &[Term] = &[
    term("anxiety", "焦虑", "Anxiety"),
    term("depression", "抑郁", "Depression"),
    term("grief", "哀伤", "Grief"),
    term("trauma", "创伤", "Trauma"),
    term("insomnia", "失眠", "Insomnia"),
    term("family", "家庭", "Family"),
    term("work-stress", "工作压力", "Work stress"),
    term("parenting", "亲子", "Parenting"),
    term("loneliness", "孤独", "Loneliness"),
    term("health-anxiety", "健康焦虑", "Health anxiety"),
];

/// The languages a call can be in.
pub const LANGUAGES: &[Term] = &[
    term("zh", "普通话", "Mandarin"),
    term("yue", "粤语", "Cantonese"),
    term("en", "英语", "English"),
];

/// The priority groups (`seeker::PriorityGroup`'s names).
pub const PRIORITY_GROUPS: &[Term] = &[
    term("medical_worker", "医护人员", "Medical worker"),
    term("patient", "患者", "Patient"),
    term("bereaved_family", "逝者家属", "Bereaved family"),
    term("general", "其他求助者", "Anyone else"),
];

/// How a session went (`referral::SessionOutcome`'s names).
pub const OUTCOMES: &[Term] = &[
    term("completed", "已完成", "Completed"),
    term("seeker_absent", "求助者未接听", "Seeker absent"),
    term("cut_short", "提前中断", "Cut short"),
];

/// How urgent a referral is (`referral::Urgency`'s names).
pub const URGENCIES: &[Term] = &[
    term("routine", "常规", "Routine"),
    term("urgent", "紧急", "Urgent"),
    term("emergency", "危急", "Emergency"),
];

/// The kinds of organisation that join the platform.
pub const ORGANISATION_KINDS: &[Term] = &[
    term("social_work", "社会工作机构", "Social work"),
    term("psychological", "心理服务机构", "Psychological service"),
    term("medical", "医疗机构", "Medical"),
    term("other", "其他", "Other"),
];

/// The kinds of place a seeker can be referred to.
pub const RESOURCE_KINDS: &[Term] = &[
    term(
        "mental_health_centre",
        "精神卫生中心",
        "Mental health centre",
    ),
    term("hotline", "热线", "Hotline"),
    term("hospital", "医院", "Hospital"),
    term("social_service", "社会服务", "Social service"),
];

/// A page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `zh` (also `zh-CN`, …) or `en`.
    pub fn parse(raw: &str) -> Option<Self> {
        let primary = raw.split(['-', '_']).next().unwrap_or("");
        match primary.to_ascii_lowercase().as_str() {
            "zh" => Some(Self::Zh),
            "en" => Some(Self::En),
            _ => None,
        }
    }
}

impl Term {
    pub fn label(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.zh,
            Lang::En => self.en,
        }
    }
}

/// The label of `code` in `list`, or the code itself when it is not there.
pub fn label<'a>(list: &[Term], code: &'a str, lang: Lang) -> &'a str {
    list.iter()
        .find(|t| t.code == code)
        .map_or(code, |t| t.label(lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_kinds_and_their_words_agree() {
        let codes = |list: &[Term]| list.iter().map(|t| t.code).collect::<Vec<_>>();
        let names = |all: &[&'static str]| all.to_vec();
        assert_eq!(
            codes(PRIORITY_GROUPS),
            names(&crate::seeker::PriorityGroup::ALL.map(|g| g.as_str()))
        );
        assert_eq!(
            codes(URGENCIES),
            names(&crate::referral::Urgency::ALL.map(|u| u.as_str()))
        );
        assert_eq!(
            codes(OUTCOMES),
            names(&crate::referral::SessionOutcome::ALL.map(|o| o.as_str()))
        );
    }

    #[test]
    fn every_code_is_once_and_every_label_is_there_in_both_languages() {
        for list in [
            TOPICS,
            LANGUAGES,
            PRIORITY_GROUPS,
            OUTCOMES,
            URGENCIES,
            ORGANISATION_KINDS,
            RESOURCE_KINDS,
        ] {
            for (i, t) in list.iter().enumerate() {
                assert!(!t.zh.is_empty() && !t.en.is_empty() && !t.code.is_empty());
                assert!(list[i + 1..].iter().all(|o| o.code != t.code), "{t:?}");
            }
        }
        assert_eq!(label(TOPICS, "family", Lang::Zh), "家庭");
        assert_eq!(label(LANGUAGES, "zh", Lang::En), "Mandarin");
        assert_eq!(label(TOPICS, "unheard-of", Lang::Zh), "unheard-of");
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::parse("fr"), None);
    }
}
