"""Real instruments the simulator starts from, so generated data looks like the market's.

ETF codes, names and price levels are real rows of a Sina ETF list (``fund_etf_category_sina``,
January 2026); stocks are well-known A-shares with names as East Money writes them
(``万  科Ａ`` with a full-width letter, ``五 粮 液`` padded). East Money board ids group ETFs:
MK0021 domestic equity, MK0022 bond and money, MK0023 cross-border, MK0024 gold.
"""

from __future__ import annotations

# (code, exchange, name, last price, board)
ETFS: list[tuple[str, str, str, str, str]] = [
    ("510300", "SH", "沪深300ETF华泰柏瑞", "4.870", "MK0021"),
    ("159919", "SZ", "沪深300ETF", "4.948", "MK0021"),
    ("510500", "SH", "中证500ETF", "8.132", "MK0021"),
    ("159915", "SZ", "创业板ETF易方达", "3.298", "MK0021"),
    ("512010", "SH", "医药ETF易方达", "0.401", "MK0021"),
    ("159928", "SZ", "消费ETF", "0.799", "MK0021"),
    ("588000", "SH", "科创50ETF", "1.536", "MK0021"),
    ("518880", "SH", "黄金ETF", "9.555", "MK0024"),
    ("513100", "SH", "纳指ETF", "1.900", "MK0023"),
    ("159941", "SZ", "纳指ETF", "1.419", "MK0023"),
    ("510050", "SH", "上证50ETF", "3.199", "MK0021"),
    ("159949", "SZ", "创业板50ETF", "1.563", "MK0021"),
    ("512880", "SH", "证券ETF", "1.233", "MK0021"),
    ("159995", "SZ", "芯片ETF", "1.890", "MK0021"),
    ("510880", "SH", "红利ETF", "3.222", "MK0021"),
    ("159920", "SZ", "恒生ETF", "1.583", "MK0023"),
    ("512100", "SH", "中证1000ETF", "3.264", "MK0021"),
    ("159869", "SZ", "游戏ETF", "1.551", "MK0021"),
    ("513500", "SH", "标普500ETF", "2.456", "MK0023"),
    ("159605", "SZ", "中概互联ETF", "1.112", "MK0023"),
    ("515030", "SH", "新能源车ETF", "1.928", "MK0021"),
    ("562500", "SH", "机器人ETF", "1.056", "MK0021"),
    ("516160", "SH", "新能源ETF", "3.001", "MK0021"),
    ("512480", "SH", "半导体ETF", "1.601", "MK0021"),
    ("511010", "SH", "国债ETF", "139.871", "MK0022"),
    ("560010", "SH", "中证1000ETF广发", "3.310", "MK0021"),
    ("512690", "SH", "酒ETF", "0.547", "MK0021"),
    ("513050", "SH", "中概互联网ETF易方达", "1.500", "MK0023"),
    ("515790", "SH", "光伏ETF", "1.017", "MK0021"),
    ("512800", "SH", "银行ETF", "0.808", "MK0021"),
    ("512000", "SH", "券商ETF", "0.590", "MK0021"),
    ("512170", "SH", "医疗ETF", "0.369", "MK0021"),
    ("588080", "SH", "科创50ETF易方达", "1.487", "MK0021"),
    ("589000", "SH", "科创综指ETF华夏", "1.420", "MK0021"),
    ("561160", "SH", "锂电池ETF", "0.865", "MK0021"),
    ("530000", "SH", "上证50ETF天弘", "1.449", "MK0021"),
    ("520500", "SH", "恒生创新药ETF", "1.686", "MK0023"),
    ("551500", "SH", "科创债ETF易方达", "100.091", "MK0022"),
    ("512760", "SH", "芯片ETF", "1.766", "MK0021"),
    ("159967", "SZ", "创业板成长ETF", "0.637", "MK0021"),
]

# ETFs East Money's ETF boards missed in 2024 (AKShare #4616: gold, commodity-futures and bond
# ETFs) but SSE's and SZSE's own fund lists carry: the simulator lists them on the exchanges
# only (empty board), so a sync that trusts East Money alone never sees them. Names and price
# levels are real rows of the same Sina ETF list (January 2026), where all four are present.
EXCHANGE_ONLY_ETFS: list[tuple[str, str, str, str, str]] = [
    ("159934", "SZ", "黄金ETF易方达", "9.984", ""),
    ("511260", "SH", "十年国债ETF", "133.851", ""),
    ("159985", "SZ", "豆粕ETF", "1.983", ""),
    ("511880", "SH", "银华日利ETF", "100.073", ""),
]

# (code, exchange, name, price level)
STOCKS: list[tuple[str, str, str, str]] = [
    ("000002", "SZ", "万  科Ａ", "7.20"),
    ("600036", "SH", "招商银行", "41.20"),
    ("300750", "SZ", "宁德时代", "260.00"),
    ("688981", "SH", "中芯国际", "85.00"),
    ("430047", "BJ", "诺思兰德", "12.00"),
    ("000157", "SZ", "中联重科", "8.70"),
    ("601318", "SH", "中国平安", "52.30"),
    ("002594", "SZ", "比亚迪", "330.00"),
    ("000858", "SZ", "五 粮 液", "130.00"),
    ("300059", "SZ", "东方财富", "22.50"),
    ("688111", "SH", "金山办公", "280.00"),
    ("600900", "SH", "长江电力", "28.50"),
    ("001979", "SZ", "招商蛇口", "9.80"),
    ("603259", "SH", "药明康德", "60.00"),
    ("601012", "SH", "隆基绿能", "18.50"),
    ("000001", "SZ", "平安银行", "11.50"),
    ("830799", "BJ", "艾融软件", "30.00"),
    ("600519", "SH", "贵州茅台", "1450.00"),
    ("605499", "SH", "东鹏饮料", "250.00"),
    ("301269", "SZ", "华大九天", "110.00"),
]


def stock_tags(code: str, exchange: str) -> frozenset[str]:
    """East Money's ``fs`` tags of a stock: market ``m``, board type ``t`` (and ``s`` for Beijing)."""
    if exchange == "SH":
        return frozenset({"m:1", "t:23" if code.startswith(("688", "689")) else "t:2"})
    if exchange == "BJ":
        return frozenset({"m:0", "t:81", "s:2048"})
    return frozenset({"m:0", "t:80" if code.startswith(("300", "301")) else "t:6"})
