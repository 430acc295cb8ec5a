-- Regions and areas: the 34 provincial-level divisions of China by their
-- ISO 3166-2:CN codes, each in one of the programme's five areas, and the
-- phased roll-out switch (`open`; every region open by default). Every
-- `region` Anxin keeps is one of these codes; the free text kept before is
-- turned into codes where it names a region.
CREATE TABLE regions (
    code       text PRIMARY KEY CHECK (code ~ '^CN-[A-Z]{2}$'),
    pinyin     text NOT NULL UNIQUE CHECK (pinyin ~ '^[a-z]+$'),
    name_zh    text NOT NULL UNIQUE,
    name_en    text NOT NULL UNIQUE,
    area       text NOT NULL CHECK (area IN ('north', 'east', 'central', 'south', 'west')),
    open       boolean NOT NULL DEFAULT true,
    changed_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO regions (code, pinyin, name_zh, name_en, area) VALUES
    ('CN-BJ', 'beijing',      '北京',   'Beijing',        'north'),
    ('CN-TJ', 'tianjin',      '天津',   'Tianjin',        'north'),
    ('CN-HE', 'hebei',        '河北',   'Hebei',          'north'),
    ('CN-SX', 'shanxi',       '山西',   'Shanxi',         'north'),
    ('CN-NM', 'neimenggu',    '内蒙古', 'Inner Mongolia', 'north'),
    ('CN-LN', 'liaoning',     '辽宁',   'Liaoning',       'north'),
    ('CN-JL', 'jilin',        '吉林',   'Jilin',          'north'),
    ('CN-HL', 'heilongjiang', '黑龙江', 'Heilongjiang',   'north'),
    ('CN-SH', 'shanghai',     '上海',   'Shanghai',       'east'),
    ('CN-JS', 'jiangsu',      '江苏',   'Jiangsu',        'east'),
    ('CN-ZJ', 'zhejiang',     '浙江',   'Zhejiang',       'east'),
    ('CN-AH', 'anhui',        '安徽',   'Anhui',          'east'),
    ('CN-FJ', 'fujian',       '福建',   'Fujian',         'east'),
    ('CN-JX', 'jiangxi',      '江西',   'Jiangxi',        'east'),
    ('CN-SD', 'shandong',     '山东',   'Shandong',       'east'),
    ('CN-TW', 'taiwan',       '台湾',   'Taiwan',         'east'),
    ('CN-HA', 'henan',        '河南',   'Henan',          'central'),
    ('CN-HB', 'hubei',        '湖北',   'Hubei',          'central'),
    ('CN-HN', 'hunan',        '湖南',   'Hunan',          'central'),
    ('CN-GD', 'guangdong',    '广东',   'Guangdong',      'south'),
    ('CN-GX', 'guangxi',      '广西',   'Guangxi',        'south'),
    ('CN-HI', 'hainan',       '海南',   'Hainan',         'south'),
    ('CN-HK', 'xianggang',    '香港',   'Hong Kong',      'south'),
    ('CN-MO', 'aomen',        '澳门',   'Macao',          'south'),
    ('CN-CQ', 'chongqing',    '重庆',   'Chongqing',      'west'),
    ('CN-SC', 'sichuan',      '四川',   'Sichuan',        'west'),
    ('CN-GZ', 'guizhou',      '贵州',   'Guizhou',        'west'),
    ('CN-YN', 'yunnan',       '云南',   'Yunnan',         'west'),
    ('CN-XZ', 'xizang',       '西藏',   'Xizang',         'west'),
    ('CN-SN', 'shaanxi',      '陕西',   'Shaanxi',        'west'),
    ('CN-GS', 'gansu',        '甘肃',   'Gansu',          'west'),
    ('CN-QH', 'qinghai',      '青海',   'Qinghai',        'west'),
    ('CN-NX', 'ningxia',      '宁夏',   'Ningxia',        'west'),
    ('CN-XJ', 'xinjiang',     '新疆',   'Xinjiang',       'west');

-- The code a free-text region names, if it names one: the code or pinyin in
-- any case and spacing, the English name, or the Chinese name with or
-- without 省/市/自治区 after it ("湖北省" as well as "湖北"). NULL otherwise.
CREATE FUNCTION region_code_of(raw text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT r.code FROM regions r
     WHERE lower(regexp_replace(raw, '[\s_-]', '', 'g'))
               IN (lower(replace(r.code, '-', '')), r.pinyin,
                   lower(replace(r.name_en, ' ', '')))
        OR btrim(raw) = r.code
        OR btrim(raw) LIKE r.name_zh || '%'
     ORDER BY length(r.name_zh) DESC
     LIMIT 1
$$;

UPDATE experts SET region = region_code_of(region)
 WHERE region_code_of(region) IS NOT NULL AND region <> region_code_of(region);
UPDATE seekers SET region = region_code_of(region)
 WHERE region IS NOT NULL AND region_code_of(region) IS NOT NULL
   AND region <> region_code_of(region);
UPDATE events SET region = region_code_of(region)
 WHERE region IS NOT NULL AND region_code_of(region) IS NOT NULL
   AND region <> region_code_of(region);
UPDATE referrals SET region = region_code_of(region)
 WHERE region IS NOT NULL AND region_code_of(region) IS NOT NULL
   AND region <> region_code_of(region);
