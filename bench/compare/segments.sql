-- segments.sql — the segmentation of segments.yaml as an analyst writes it
-- in SQL: one CASE WHEN per tag, over a table `subs` with one column per
-- CSV column (series field f: f_m0 .. f_m5).  The same text runs in SQLite
-- and DuckDB.  Loading (run.sh's drivers) stores money as integer fen and
-- dates as days since 1970-01-01 in both, so sums are exact and dates are
-- plain numbers; the as-of date 2026-10-31 is day 20757.
--
-- Null semantics are §5.2's, spelled out:
--  - all/any/none of a window are AND/OR/NOT over its months: SQL's Kleene
--    logic is the rule language's;
--  - count(w > k) counts the months that are true (a null month counts 0);
--  - sum/avg/max skip null months and are null when every month is null:
--    sum is a CASE that gives NULL when all are null, else the sum of the
--    COALESCEd months; avg divides by the number of non-null months
--    (NULLIF(.., 0): null when there is none); int and money averages are
--    computed in double precision as the library does ((double)sum / n,
--    money then / 100.0 for yuan);
--  - streak(w == 0) >= 2 is "the first two months are true", never null;
--  - a tag applies when its condition is true (CASE WHEN: null is not true);
--  - the exclusive group is one CASE WHEN in priority order.
--
-- The columns of seg_tags are in segments.yaml's tag order; run.sh wraps
-- this text as CREATE VIEW seg_tags AS <this select>.
SELECT
  msisdn,
  churn_score,
  CASE WHEN data_attr = 0 THEN 1 ELSE 0 END AS silent,
  CASE WHEN data_attr = 1 THEN 1 ELSE 0 END AS flash,
  CASE WHEN data_attr = 2 THEN 1 ELSE 0 END AS heavy,
  CASE WHEN data_attr = 3 THEN 1 ELSE 0 END AS impulsive,
  CASE WHEN data_attr = 4 THEN 1 ELSE 0 END AS explorer,
  CASE WHEN data_attr = 5 THEN 1 ELSE 0 END AS data_other,
  active3, arpu_high, arpu_drop, spend_big, voice_heavy, voice_drop, sms_heavy, sms_none,
  crbt_active, crbt_promo, crbt_silent, mms_active, fetion_silent, ivr_heavy, ivr_spend,
  gotone_rich, young_data, churn_risk, new_biz, overdue, tenure_new, not_male_old,
  contract_free, spend_mixed
FROM (
SELECT
  msisdn,
  churn_score,
  -- group `data`, first match: silent, flash, heavy, impulsive, explorer; otherwise data_other
  CASE
    WHEN NOT (web_sessions_m0 > 0 OR web_sessions_m1 > 0 OR web_sessions_m2 > 0
              OR web_sessions_m3 > 0 OR web_sessions_m4 > 0 OR web_sessions_m5 > 0) THEN 0
    WHEN web_sessions_m3 > 0
         AND NOT (web_sessions_m0 > 0 OR web_sessions_m1 > 0 OR web_sessions_m2 > 0) THEN 1
    WHEN (web_sessions_m0 > 10 AND web_sessions_m1 > 10 AND web_sessions_m2 > 10
          AND web_sessions_m3 > 10 AND web_sessions_m4 > 10 AND web_sessions_m5 > 10)
         AND (gprs_mb_m0 > 2 AND gprs_mb_m1 > 2 AND gprs_mb_m2 > 2
              AND gprs_mb_m3 > 2 AND gprs_mb_m4 > 2 AND gprs_mb_m5 > 2) THEN 2
    WHEN gprs_package IS NOT NULL AND gprs_mb_m0 > 10 AND gprs_mb_m1 > 10 THEN 3
    WHEN (wap_push_clicks_m0 >= 1 OR wap_push_clicks_m1 >= 1 OR wap_push_clicks_m2 >= 1)
         OR (promo_joins_m0 >= 1 OR promo_joins_m1 >= 1 OR promo_joins_m2 >= 1) THEN 4
    ELSE 5
  END AS data_attr,
  -- active3: count(web_sessions[0..5] > 0) >= 3
  CASE WHEN (CASE WHEN web_sessions_m0 > 0 THEN 1 ELSE 0 END + CASE WHEN web_sessions_m1 > 0 THEN 1 ELSE 0 END
           + CASE WHEN web_sessions_m2 > 0 THEN 1 ELSE 0 END + CASE WHEN web_sessions_m3 > 0 THEN 1 ELSE 0 END
           + CASE WHEN web_sessions_m4 > 0 THEN 1 ELSE 0 END + CASE WHEN web_sessions_m5 > 0 THEN 1 ELSE 0 END) >= 3
       THEN 1 ELSE 0 END AS active3,
  -- arpu_high: avg(arpu[0..2]) > 50 (yuan)
  CASE WHEN CAST(COALESCE(arpu_m0, 0) + COALESCE(arpu_m1, 0) + COALESCE(arpu_m2, 0) AS DOUBLE)
            / NULLIF(CASE WHEN arpu_m0 IS NULL THEN 0 ELSE 1 END + CASE WHEN arpu_m1 IS NULL THEN 0 ELSE 1 END
                     + CASE WHEN arpu_m2 IS NULL THEN 0 ELSE 1 END, 0) / 100.0 > 50
       THEN 1 ELSE 0 END AS arpu_high,
  -- arpu_drop: avg(arpu[0..2]) < avg(arpu[3..5]) * 0.7
  CASE WHEN CAST(COALESCE(arpu_m0, 0) + COALESCE(arpu_m1, 0) + COALESCE(arpu_m2, 0) AS DOUBLE)
            / NULLIF(CASE WHEN arpu_m0 IS NULL THEN 0 ELSE 1 END + CASE WHEN arpu_m1 IS NULL THEN 0 ELSE 1 END
                     + CASE WHEN arpu_m2 IS NULL THEN 0 ELSE 1 END, 0) / 100.0
          < CAST(COALESCE(arpu_m3, 0) + COALESCE(arpu_m4, 0) + COALESCE(arpu_m5, 0) AS DOUBLE)
            / NULLIF(CASE WHEN arpu_m3 IS NULL THEN 0 ELSE 1 END + CASE WHEN arpu_m4 IS NULL THEN 0 ELSE 1 END
                     + CASE WHEN arpu_m5 IS NULL THEN 0 ELSE 1 END, 0) / 100.0 * 0.7
       THEN 1 ELSE 0 END AS arpu_drop,
  -- spend_big: sum(total_spend[0..5]) > 600 (yuan = 60000 fen)
  CASE WHEN (CASE WHEN total_spend_m0 IS NULL AND total_spend_m1 IS NULL AND total_spend_m2 IS NULL
                   AND total_spend_m3 IS NULL AND total_spend_m4 IS NULL AND total_spend_m5 IS NULL THEN NULL
              ELSE COALESCE(total_spend_m0, 0) + COALESCE(total_spend_m1, 0) + COALESCE(total_spend_m2, 0)
                 + COALESCE(total_spend_m3, 0) + COALESCE(total_spend_m4, 0) + COALESCE(total_spend_m5, 0) END) > 60000
       THEN 1 ELSE 0 END AS spend_big,
  -- voice_heavy: all(voice_minutes[0..2] > 100)
  CASE WHEN voice_minutes_m0 > 100 AND voice_minutes_m1 > 100 AND voice_minutes_m2 > 100
       THEN 1 ELSE 0 END AS voice_heavy,
  -- voice_drop: voice_minutes[0] < avg(voice_minutes[1..3]) * 0.5
  CASE WHEN voice_minutes_m0
            < CAST(COALESCE(voice_minutes_m1, 0) + COALESCE(voice_minutes_m2, 0) + COALESCE(voice_minutes_m3, 0) AS DOUBLE)
              / NULLIF(CASE WHEN voice_minutes_m1 IS NULL THEN 0 ELSE 1 END + CASE WHEN voice_minutes_m2 IS NULL THEN 0 ELSE 1 END
                       + CASE WHEN voice_minutes_m3 IS NULL THEN 0 ELSE 1 END, 0) * 0.5
       THEN 1 ELSE 0 END AS voice_drop,
  -- sms_heavy: any(sms_count[0..5] > 20)
  CASE WHEN sms_count_m0 > 20 OR sms_count_m1 > 20 OR sms_count_m2 > 20
            OR sms_count_m3 > 20 OR sms_count_m4 > 20 OR sms_count_m5 > 20
       THEN 1 ELSE 0 END AS sms_heavy,
  -- sms_none: not any(sms_count[0..1] > 0)
  CASE WHEN NOT (sms_count_m0 > 0 OR sms_count_m1 > 0) THEN 1 ELSE 0 END AS sms_none,
  -- crbt_active: count(crbt_downloads[0..5] > 0) >= 3
  CASE WHEN (CASE WHEN crbt_downloads_m0 > 0 THEN 1 ELSE 0 END + CASE WHEN crbt_downloads_m1 > 0 THEN 1 ELSE 0 END
           + CASE WHEN crbt_downloads_m2 > 0 THEN 1 ELSE 0 END + CASE WHEN crbt_downloads_m3 > 0 THEN 1 ELSE 0 END
           + CASE WHEN crbt_downloads_m4 > 0 THEN 1 ELSE 0 END + CASE WHEN crbt_downloads_m5 > 0 THEN 1 ELSE 0 END) >= 3
       THEN 1 ELSE 0 END AS crbt_active,
  -- crbt_promo: sum(crbt_promo_downloads[0..5]) * 2 > sum(crbt_downloads[0..5])
  CASE WHEN (CASE WHEN crbt_promo_downloads_m0 IS NULL AND crbt_promo_downloads_m1 IS NULL
                   AND crbt_promo_downloads_m2 IS NULL AND crbt_promo_downloads_m3 IS NULL
                   AND crbt_promo_downloads_m4 IS NULL AND crbt_promo_downloads_m5 IS NULL THEN NULL
              ELSE COALESCE(crbt_promo_downloads_m0, 0) + COALESCE(crbt_promo_downloads_m1, 0)
                 + COALESCE(crbt_promo_downloads_m2, 0) + COALESCE(crbt_promo_downloads_m3, 0)
                 + COALESCE(crbt_promo_downloads_m4, 0) + COALESCE(crbt_promo_downloads_m5, 0) END) * 2
          > (CASE WHEN crbt_downloads_m0 IS NULL AND crbt_downloads_m1 IS NULL AND crbt_downloads_m2 IS NULL
                   AND crbt_downloads_m3 IS NULL AND crbt_downloads_m4 IS NULL AND crbt_downloads_m5 IS NULL THEN NULL
              ELSE COALESCE(crbt_downloads_m0, 0) + COALESCE(crbt_downloads_m1, 0) + COALESCE(crbt_downloads_m2, 0)
                 + COALESCE(crbt_downloads_m3, 0) + COALESCE(crbt_downloads_m4, 0) + COALESCE(crbt_downloads_m5, 0) END)
       THEN 1 ELSE 0 END AS crbt_promo,
  -- crbt_silent: crbt_subscribed and none(crbt_downloads[0..5] > 0)
  CASE WHEN crbt_subscribed_m0 <> 0
            AND NOT (crbt_downloads_m0 > 0 OR crbt_downloads_m1 > 0 OR crbt_downloads_m2 > 0
                     OR crbt_downloads_m3 > 0 OR crbt_downloads_m4 > 0 OR crbt_downloads_m5 > 0)
       THEN 1 ELSE 0 END AS crbt_silent,
  -- mms_active: all(mms_sent[0..2] > 0)
  CASE WHEN mms_sent_m0 > 0 AND mms_sent_m1 > 0 AND mms_sent_m2 > 0 THEN 1 ELSE 0 END AS mms_active,
  -- fetion_silent: none(fetion_logins[0..2] > 0)
  CASE WHEN NOT (fetion_logins_m0 > 0 OR fetion_logins_m1 > 0 OR fetion_logins_m2 > 0)
       THEN 1 ELSE 0 END AS fetion_silent,
  -- ivr_heavy: all(ivr_national_calls[0..5] + ivr_local_calls[0..5] > 10)
  CASE WHEN ivr_national_calls_m0 + ivr_local_calls_m0 > 10 AND ivr_national_calls_m1 + ivr_local_calls_m1 > 10
            AND ivr_national_calls_m2 + ivr_local_calls_m2 > 10 AND ivr_national_calls_m3 + ivr_local_calls_m3 > 10
            AND ivr_national_calls_m4 + ivr_local_calls_m4 > 10 AND ivr_national_calls_m5 + ivr_local_calls_m5 > 10
       THEN 1 ELSE 0 END AS ivr_heavy,
  -- ivr_spend: any(ivr_fee[0..5] > 20) (yuan = 2000 fen)
  CASE WHEN ivr_fee_m0 > 2000 OR ivr_fee_m1 > 2000 OR ivr_fee_m2 > 2000
            OR ivr_fee_m3 > 2000 OR ivr_fee_m4 > 2000 OR ivr_fee_m5 > 2000
       THEN 1 ELSE 0 END AS ivr_spend,
  -- gotone_rich: brand == 'gotone' and arpu[0] > 100
  CASE WHEN brand = 'gotone' AND arpu_m0 > 10000 THEN 1 ELSE 0 END AS gotone_rich,
  -- young_data: age < 30 and avg(gprs_mb[0..2]) > 50
  CASE WHEN age < 30
            AND (COALESCE(gprs_mb_m0, 0) + COALESCE(gprs_mb_m1, 0) + COALESCE(gprs_mb_m2, 0))
                / NULLIF(CASE WHEN gprs_mb_m0 IS NULL THEN 0 ELSE 1 END + CASE WHEN gprs_mb_m1 IS NULL THEN 0 ELSE 1 END
                         + CASE WHEN gprs_mb_m2 IS NULL THEN 0 ELSE 1 END, 0) > 50
       THEN 1 ELSE 0 END AS young_data,
  -- churn_risk: churn_score >= 0.6 or streak(voice_minutes[0..5] == 0) >= 2
  CASE WHEN churn_score >= 0.6
            OR (CASE WHEN voice_minutes_m0 = 0 AND voice_minutes_m1 = 0 THEN 1 ELSE 0 END) = 1
       THEN 1 ELSE 0 END AS churn_risk,
  -- new_biz: sum(new_biz_fee[0..2]) > sum(new_biz_fee[3..5])
  CASE WHEN (CASE WHEN new_biz_fee_m0 IS NULL AND new_biz_fee_m1 IS NULL AND new_biz_fee_m2 IS NULL THEN NULL
              ELSE COALESCE(new_biz_fee_m0, 0) + COALESCE(new_biz_fee_m1, 0) + COALESCE(new_biz_fee_m2, 0) END)
          > (CASE WHEN new_biz_fee_m3 IS NULL AND new_biz_fee_m4 IS NULL AND new_biz_fee_m5 IS NULL THEN NULL
              ELSE COALESCE(new_biz_fee_m3, 0) + COALESCE(new_biz_fee_m4, 0) + COALESCE(new_biz_fee_m5, 0) END)
       THEN 1 ELSE 0 END AS new_biz,
  -- overdue: overdue_days >= 30 and overdue_amount > 50
  CASE WHEN overdue_days >= 30 AND overdue_amount > 5000 THEN 1 ELSE 0 END AS overdue,
  -- tenure_new: days_since(join_date) < 180
  CASE WHEN 20757 - join_date < 180 THEN 1 ELSE 0 END AS tenure_new,
  -- not_male_old: not (gender == 'M' or age < 40)
  CASE WHEN NOT (gender = 'M' OR age < 40) THEN 1 ELSE 0 END AS not_male_old,
  -- contract_free: not (days_since(contract_end) < 0) and arpu[0] >= 30
  CASE WHEN NOT (20757 - contract_end < 0) AND arpu_m0 >= 3000 THEN 1 ELSE 0 END AS contract_free,
  -- spend_mixed: coalesce(sum(gprs_fee[0..2]), 0) + coalesce(sum(mms_fee[0..2]), 0) > 100
  --              or max(info_fee[0..5]) > 10
  CASE WHEN COALESCE(gprs_fee_m0, 0) + COALESCE(gprs_fee_m1, 0) + COALESCE(gprs_fee_m2, 0)
            + COALESCE(mms_fee_m0, 0) + COALESCE(mms_fee_m1, 0) + COALESCE(mms_fee_m2, 0) > 10000
            OR (CASE WHEN info_fee_m0 > 1000 OR info_fee_m1 > 1000 OR info_fee_m2 > 1000
                          OR info_fee_m3 > 1000 OR info_fee_m4 > 1000 OR info_fee_m5 > 1000 THEN TRUE
                     WHEN info_fee_m0 IS NULL AND info_fee_m1 IS NULL AND info_fee_m2 IS NULL
                          AND info_fee_m3 IS NULL AND info_fee_m4 IS NULL AND info_fee_m5 IS NULL THEN NULL
                     ELSE FALSE END)
       THEN 1 ELSE 0 END AS spend_mixed
FROM subs
) AS segmented
