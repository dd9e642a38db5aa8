#!/usr/bin/python3
"""callcenter.py — an outbound list for the call center (外呼) and the call
script for each customer: churned ringback-tone (彩铃) users of a region,
highest ARPU first, with their favourite content types and recent tones.

    callcenter.py STORE.cps [--region 福州] [--limit 10]

Needs the custprof package (bindings/python) on PYTHONPATH and the library
(CUSTPROF_LIB=/path/to/libcustprof.so if it is not found by itself).
"""

import argparse
import sys

import custprof

SCRIPT = """\
[{n}] {key}  {region}  ARPU {arpu} 元  彩铃: {stage} ({rule})
    您好，这里是中国移动10086。您的彩铃业务目前已停用，我们为您准备了回归优惠：
    本月重新开通彩铃，首月功能费全免。
    {favourite}
    {tones}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--region")
    ap.add_argument("--limit", type=int, default=10)
    args = ap.parse_args()

    where = "stage('crbt') == 'churned' and not coalesce(do_not_disturb, false)"
    if args.region:
        if "'" in args.region:
            sys.exit("callcenter.py: a quote in the region")
        where += " and region == '%s'" % args.region

    with custprof.Store.open(args.store) as store, custprof.Ruleset(store) as rules:
        targets = rules.select(store, where=where, order_by="arpu", desc=True,
                               limit=args.limit, columns="msisdn,region,arpu")
        print("外呼清单: %d 位已流失的彩铃用户%s，按ARPU从高到低，取前 %d 位\n"
              % (targets.matched, "（%s）" % args.region if args.region else "", len(targets)))
        for n, row in enumerate(targets, 1):
            profile = row.profile()
            stage = rules.evaluate(profile).stage("crbt")
            favs = profile["fav_content_types"] or []
            tones = profile["recent_tones"] or []
            print(SCRIPT.format(
                n=n, key=row.key, region=row["region"], arpu=row["arpu"] or "-",
                stage=stage.label, rule=stage.rule,
                favourite="根据您喜欢的%s类铃音，为您推荐本周新歌。" % "、".join(favs)
                if favs else "为您推荐本周最热门的铃音。",
                tones="您最近下载的铃音（编号 %s）可一键恢复。" % "、".join(tones)
                if tones else "开通后回复编号即可设置铃音。"))


if __name__ == "__main__":
    try:
        main()
    except custprof.Error as e:
        sys.exit("callcenter.py: %s" % e)
