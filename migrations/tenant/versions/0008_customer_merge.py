"""tenant: customer merges

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

Additive, on `customers` only (no new table):
- `merged_into_id`: the customer a merged (soft-deleted) customer was merged into,
  so old links can be followed; a merged customer is always a deleted one.
- Duplicate-matching keys as stored generated columns, each with an index for the
  self-join that pairs candidates (app/merge/queries.py):
  `match_name` (the name without legal-form suffixes, leading province/city,
  punctuation, spaces; full-width folded, lower case), `match_region` (the province
  that leading place name lies in, so 北京银行 and 南京银行 never pair) and
  `match_phone` (digits only, without +86), `match_email` (lower case).
The functions computing them are IMMUTABLE and self-contained (like search_tokens in
0001): they call only pg_catalog, because they run with the application role's
search_path (pg_catalog only). One ALTER TABLE adds every column, so the table is
rewritten once.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Province-level divisions and the major cities in each: a leading place name is
# stripped from a company name, and the province it lies in is kept for comparison.
REGIONS: dict[str, tuple[str, ...]] = {
    "北京": (), "天津": (), "上海": (), "重庆": (), "香港": (), "澳门": (), "台湾": (),
    "河北": ("石家庄", "唐山", "保定", "廊坊", "邯郸", "沧州", "秦皇岛"),
    "山西": ("太原", "大同"),
    "内蒙古": ("呼和浩特", "包头", "鄂尔多斯"),
    "辽宁": ("沈阳", "大连", "鞍山"),
    "吉林": ("长春",),
    "黑龙江": ("哈尔滨", "大庆"),
    "江苏": ("南京", "苏州", "无锡", "常州", "南通", "徐州", "扬州", "镇江", "泰州", "盐城",
             "昆山", "江阴"),
    "浙江": ("杭州", "宁波", "温州", "绍兴", "嘉兴", "金华", "台州", "湖州", "义乌"),
    "安徽": ("合肥", "芜湖"),
    "福建": ("福州", "厦门", "泉州", "漳州", "莆田"),
    "江西": ("南昌", "赣州"),
    "山东": ("济南", "青岛", "烟台", "潍坊", "临沂", "淄博", "威海", "济宁"),
    "河南": ("郑州", "洛阳"),
    "湖北": ("武汉", "宜昌", "襄阳"),
    "湖南": ("长沙", "株洲"),
    "广东": ("广州", "深圳", "佛山", "东莞", "中山", "珠海", "惠州", "江门", "汕头", "湛江",
             "肇庆", "清远", "揭阳", "潮州", "茂名", "韶关", "梅州"),
    "广西": ("南宁", "柳州", "桂林"),
    "海南": ("海口", "三亚"),
    "四川": ("成都", "绵阳"),
    "贵州": ("贵阳",),
    "云南": ("昆明",),
    "西藏": ("拉萨",),
    "陕西": ("西安",),
    "甘肃": ("兰州",),
    "青海": ("西宁",),
    "宁夏": ("银川",),
    "新疆": ("乌鲁木齐",),
}  # fmt: skip
PROVINCE_OF = {
    place: province for province, cities in REGIONS.items() for place in (province, *cities)
}
PLACES = "|".join(sorted(PROVINCE_OF, key=lambda p: (-len(p), p)))
PLACE_FORMS = "壮族自治区|回族自治区|维吾尔自治区|特别行政区|自治区|省|市"
# Trailing legal forms, Chinese (repeated: 集团有限公司) and English (as whole words).
CHINESE_FORMS = (
    "股份有限公司|有限责任公司|股份公司|有限公司|集团公司|总公司|公司|集团|控股|工厂|厂|"
    "商行|商店|门市部|经营部|工作室|事务所"
)
ENGLISH_FORMS = (
    "co|corp|corporation|company|ltd|limited|inc|incorporated|llc|plc|gmbh|group|holdings?"
)
# Kept by NFKC (which folds full-width ASCII, ideographic spaces and the like).
CJK_MARKS = "、。〃〈〉《》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟・·‐‑‒–—―‘’“”…‧﹏"

NAME_PARTS = rf"""
CREATE FUNCTION customer_name_parts(name text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    t text COLLATE "C";
    place text;
    province text;
BEGIN
    IF name IS NULL THEN
        RETURN NULL;
    END IF;
    t := pg_catalog.lower(pg_catalog.normalize(name, 'NFKC') COLLATE "und-x-icu");
    -- Bracketed parts: 华达电子（佛山）有限公司, (Holdings).
    t := pg_catalog.regexp_replace(t, '\([^()]*\)|\[[^]]*\]|【[^】]*】|〔[^〕]*〕', '', 'g');
    t := pg_catalog.regexp_replace(
        t, '((?<![a-z0-9])({ENGLISH_FORMS})[[:space:].,&]*)+$', '');
    t := pg_catalog.regexp_replace(t, '[[:space:][:punct:]{CJK_MARKS}]+', '', 'g');
    t := pg_catalog.regexp_replace(t, '({CHINESE_FORMS})+$', '');
    -- Leading places (广东省佛山市...), as long as two characters of name remain.
    -- (Capturing groups only: substring() returns the first one; "(?:" would read
    -- as a bind parameter to op.execute.)
    FOR i IN 1..3 LOOP
        place := pg_catalog.substring(t, '^(({PLACES})({PLACE_FORMS})?)');
        EXIT WHEN place IS NULL OR pg_catalog.length(t) - pg_catalog.length(place) < 2;
        IF province IS NULL THEN
            province := '{json.dumps(PROVINCE_OF, ensure_ascii=False)}'::jsonb
                ->> pg_catalog.substring(place, '^({PLACES})');
        END IF;
        t := pg_catalog.substr(t, pg_catalog.length(place) + 1);
    END LOOP;
    IF pg_catalog.length(t) < 2 THEN
        RETURN ARRAY[NULL, NULL]::text[];
    END IF;
    RETURN ARRAY[t, province];
END
$$
"""

# Digits only; +86 / 0086 dropped, and a landline written internationally gets its
# trunk 0 back (+86 757 8888 1234 = 0757-8888-1234). Fewer than 7 digits: no key.
PHONE_KEY = r"""
CREATE FUNCTION customer_phone_key(phone text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    d text COLLATE "C";
    international boolean := false;
BEGIN
    IF phone IS NULL THEN
        RETURN NULL;
    END IF;
    d := pg_catalog.regexp_replace(pg_catalog.normalize(phone, 'NFKC'), '[^0-9]', '', 'g');
    IF pg_catalog.starts_with(d, '0086') THEN
        d := pg_catalog.substr(d, 5);
        international := true;
    ELSIF pg_catalog.starts_with(d, '86') AND pg_catalog.length(d) >= 12 THEN
        d := pg_catalog.substr(d, 3);
        international := true;
    END IF;
    IF international AND pg_catalog.left(d, 1) NOT IN ('0', '1') THEN
        d := '0' || d;
    END IF;
    IF pg_catalog.length(d) < 7 THEN
        RETURN NULL;
    END IF;
    RETURN d;
END
$$
"""

LIVE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    op.execute(NAME_PARTS)
    op.execute(PHONE_KEY)
    op.execute(
        "ALTER TABLE customers"
        " ADD COLUMN merged_into_id uuid"
        " CONSTRAINT fk_customers_merged_into_id_customers REFERENCES customers (id),"
        " ADD COLUMN match_name text"
        " GENERATED ALWAYS AS ((customer_name_parts(name))[1]) STORED,"
        " ADD COLUMN match_region text"
        " GENERATED ALWAYS AS ((customer_name_parts(name))[2]) STORED,"
        " ADD COLUMN match_phone text GENERATED ALWAYS AS (customer_phone_key(phone)) STORED,"
        " ADD COLUMN match_email text GENERATED ALWAYS AS (lower(email)) STORED,"
        " ADD CONSTRAINT ck_customers_merged_is_deleted"
        " CHECK (merged_into_id IS NULL OR deleted_at IS NOT NULL)"
    )
    op.create_index(
        "ix_customers_match_name", "customers", ["match_name", "id"], postgresql_where=LIVE
    )
    op.create_index(
        "ix_customers_match_phone", "customers", ["match_phone", "id"], postgresql_where=LIVE
    )
    op.create_index(
        "ix_customers_match_email", "customers", ["match_email", "id"], postgresql_where=LIVE
    )
    op.create_index(
        "ix_customers_merged_into_id",
        "customers",
        ["merged_into_id"],
        postgresql_where=sa.text("merged_into_id IS NOT NULL"),
    )


def downgrade() -> None:
    for index in ("ix_customers_merged_into_id", "ix_customers_match_email",
                  "ix_customers_match_phone", "ix_customers_match_name"):  # fmt: skip
        op.drop_index(index, table_name="customers")
    op.execute(
        "ALTER TABLE customers DROP CONSTRAINT ck_customers_merged_is_deleted,"
        " DROP COLUMN match_email, DROP COLUMN match_phone, DROP COLUMN match_region,"
        " DROP COLUMN match_name,"
        " DROP COLUMN merged_into_id"
    )
    op.execute("DROP FUNCTION customer_phone_key(text)")
    op.execute("DROP FUNCTION customer_name_parts(text)")
