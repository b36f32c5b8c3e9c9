// Static numbering data for e164.ts. Coordinates are rough population centres (good enough to rank a handful of
// cloud regions by distance); zone lists put the most populous zone first.

export interface CountryInfo {
  iso: string;
  /** Without the `+`. NANP members all have "1" and are resolved by area code instead. */
  callingCode: string;
  lat: number;
  lon: number;
  timeZones: readonly string[];
}

const c = (iso: string, callingCode: string, lat: number, lon: number, ...timeZones: string[]): CountryInfo => ({
  iso,
  callingCode,
  lat,
  lon,
  timeZones,
});

export const COUNTRIES: readonly CountryInfo[] = [
  // North American Numbering Plan (calling code 1)
  c(
    "US",
    "1",
    39.8,
    -98.6,
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
  ),
  c(
    "CA",
    "1",
    45.4,
    -75.7,
    "America/Toronto",
    "America/Vancouver",
    "America/Edmonton",
    "America/Winnipeg",
    "America/Regina",
    "America/Halifax",
    "America/St_Johns",
  ),
  c("PR", "1", 18.2, -66.5, "America/Puerto_Rico"),
  c("VI", "1", 18.3, -64.9, "America/St_Thomas"),
  c("JM", "1", 18.1, -77.3, "America/Jamaica"),
  c("DO", "1", 18.7, -70.2, "America/Santo_Domingo"),
  c("BS", "1", 25.0, -77.4, "America/Nassau"),
  c("BB", "1", 13.2, -59.5, "America/Barbados"),
  c("TT", "1", 10.7, -61.2, "America/Port_of_Spain"),
  c("BM", "1", 32.3, -64.8, "Atlantic/Bermuda"),
  c("GU", "1", 13.4, 144.8, "Pacific/Guam"),
  // Europe
  c("GB", "44", 52.5, -1.5, "Europe/London"),
  c("IE", "353", 53.3, -7.7, "Europe/Dublin"),
  c("FR", "33", 46.6, 2.4, "Europe/Paris"),
  c("DE", "49", 51.2, 10.4, "Europe/Berlin"),
  c("NL", "31", 52.1, 5.3, "Europe/Amsterdam"),
  c("BE", "32", 50.6, 4.6, "Europe/Brussels"),
  c("LU", "352", 49.8, 6.1, "Europe/Luxembourg"),
  c("ES", "34", 40.4, -3.7, "Europe/Madrid", "Atlantic/Canary"),
  c("PT", "351", 39.5, -8.0, "Europe/Lisbon", "Atlantic/Azores"),
  c("IT", "39", 42.8, 12.5, "Europe/Rome"),
  c("CH", "41", 46.8, 8.2, "Europe/Zurich"),
  c("AT", "43", 47.6, 14.1, "Europe/Vienna"),
  c("DK", "45", 56.0, 10.0, "Europe/Copenhagen"),
  c("SE", "46", 60.1, 15.6, "Europe/Stockholm"),
  c("NO", "47", 60.5, 9.0, "Europe/Oslo"),
  c("FI", "358", 62.0, 25.7, "Europe/Helsinki"),
  c("IS", "354", 64.9, -19.0, "Atlantic/Reykjavik"),
  c("PL", "48", 52.0, 19.1, "Europe/Warsaw"),
  c("CZ", "420", 49.8, 15.5, "Europe/Prague"),
  c("SK", "421", 48.7, 19.7, "Europe/Bratislava"),
  c("HU", "36", 47.2, 19.5, "Europe/Budapest"),
  c("RO", "40", 45.9, 25.0, "Europe/Bucharest"),
  c("BG", "359", 42.7, 25.5, "Europe/Sofia"),
  c("GR", "30", 38.5, 22.9, "Europe/Athens"),
  c("HR", "385", 45.1, 15.2, "Europe/Zagreb"),
  c("SI", "386", 46.1, 14.8, "Europe/Ljubljana"),
  c("EE", "372", 58.6, 25.0, "Europe/Tallinn"),
  c("LV", "371", 56.9, 24.6, "Europe/Riga"),
  c("LT", "370", 55.2, 23.9, "Europe/Vilnius"),
  c("CY", "357", 35.1, 33.4, "Asia/Nicosia"),
  c("MT", "356", 35.9, 14.4, "Europe/Malta"),
  c("UA", "380", 49.0, 31.4, "Europe/Kiev"),
  c("TR", "90", 39.0, 35.2, "Europe/Istanbul"),
  c("RU", "7", 55.8, 37.6, "Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk", "Asia/Vladivostok"),
  // Middle East and Africa
  c("IL", "972", 31.5, 34.8, "Asia/Jerusalem"),
  c("AE", "971", 24.4, 54.4, "Asia/Dubai"),
  c("SA", "966", 24.7, 46.7, "Asia/Riyadh"),
  c("EG", "20", 30.0, 31.2, "Africa/Cairo"),
  c("MA", "212", 31.8, -7.1, "Africa/Casablanca"),
  c("NG", "234", 9.1, 7.5, "Africa/Lagos"),
  c("KE", "254", -1.3, 36.8, "Africa/Nairobi"),
  c("ZA", "27", -26.2, 28.0, "Africa/Johannesburg"),
  // Asia and Oceania
  c("IN", "91", 21.0, 78.0, "Asia/Kolkata"),
  c("PK", "92", 30.4, 69.3, "Asia/Karachi"),
  c("BD", "880", 23.7, 90.4, "Asia/Dhaka"),
  c("CN", "86", 34.0, 113.0, "Asia/Shanghai"),
  c("HK", "852", 22.3, 114.2, "Asia/Hong_Kong"),
  c("TW", "886", 23.7, 121.0, "Asia/Taipei"),
  c("JP", "81", 35.7, 139.7, "Asia/Tokyo"),
  c("KR", "82", 37.5, 127.0, "Asia/Seoul"),
  c("SG", "65", 1.35, 103.8, "Asia/Singapore"),
  c("MY", "60", 3.1, 101.7, "Asia/Kuala_Lumpur"),
  c("TH", "66", 13.8, 100.5, "Asia/Bangkok"),
  c("VN", "84", 16.0, 106.0, "Asia/Ho_Chi_Minh"),
  c("PH", "63", 14.6, 121.0, "Asia/Manila"),
  c("ID", "62", -6.2, 106.8, "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"),
  c(
    "AU",
    "61",
    -33.9,
    151.2,
    "Australia/Sydney",
    "Australia/Melbourne",
    "Australia/Brisbane",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Hobart",
  ),
  c("NZ", "64", -41.0, 174.0, "Pacific/Auckland"),
  // Latin America
  c(
    "MX",
    "52",
    19.4,
    -99.1,
    "America/Mexico_City",
    "America/Monterrey",
    "America/Cancun",
    "America/Chihuahua",
    "America/Hermosillo",
    "America/Tijuana",
  ),
  c(
    "BR",
    "55",
    -23.5,
    -46.6,
    "America/Sao_Paulo",
    "America/Fortaleza",
    "America/Manaus",
    "America/Cuiaba",
    "America/Rio_Branco",
    "America/Noronha",
  ),
  c("AR", "54", -34.6, -58.4, "America/Argentina/Buenos_Aires"),
  c("CL", "56", -33.4, -70.6, "America/Santiago"),
  c("CO", "57", 4.6, -74.1, "America/Bogota"),
  c("PE", "51", -12.0, -77.0, "America/Lima"),
  c("VE", "58", 10.5, -66.9, "America/Caracas"),
  c("EC", "593", -1.8, -78.2, "America/Guayaquil"),
  c("UY", "598", -34.9, -56.2, "America/Montevideo"),
  c("CR", "506", 9.9, -84.1, "America/Costa_Rica"),
  c("PA", "507", 9.0, -79.5, "America/Panama"),
  c("GT", "502", 14.6, -90.5, "America/Guatemala"),
];

const NANP_ZONES: Record<string, { country: string; codes: string }> = {
  // United States, by zone. Area codes that straddle a zone line appear in MIXED below instead.
  "America/New_York": {
    country: "US",
    codes:
      "201 202 203 207 212 215 216 220 223 229 231 234 239 240 248 252 260 267 269 272 276 283 301 302 304 305 313 315 317 321 324 326 330 332 336 339 347 351 352 380 386 401 404 407 410 412 413 419 423 434 436 440 443 445 448 463 470 472 475 478 484 502 508 513 516 517 518 540 551 561 567 570 571 574 582 585 586 603 606 607 609 610 614 616 617 631 640 645 646 656 667 678 679 680 681 689 703 704 706 716 717 718 724 727 728 732 734 740 743 754 757 762 765 770 771 772 774 781 786 802 803 804 810 813 814 826 828 835 838 839 843 845 848 854 856 857 859 860 862 863 864 865 878 904 908 910 912 914 917 919 929 930 934 937 941 943 947 948 954 959 973 978 980 984 989",
  },
  "America/Chicago": {
    country: "US",
    codes:
      "205 210 214 217 218 219 224 225 228 251 254 256 262 270 274 281 309 312 314 316 318 319 320 325 327 331 334 337 346 361 364 402 405 409 414 417 430 432 447 464 469 479 501 504 507 512 515 531 534 539 557 563 572 573 580 601 608 612 615 618 620 629 630 636 641 651 659 660 662 682 708 712 713 715 726 730 731 737 763 769 773 779 806 815 816 817 830 832 847 861 870 872 901 903 913 918 920 931 936 938 940 945 952 956 972 975 979 985",
  },
  "America/Denver": { country: "US", codes: "303 307 385 406 435 505 575 719 720 801 915 970 983" },
  "America/Phoenix": { country: "US", codes: "480 520 602 623 928" },
  "America/Los_Angeles": {
    country: "US",
    codes:
      "206 209 213 253 279 310 323 341 350 360 408 415 424 425 442 458 503 509 510 530 541 559 562 564 619 626 628 650 657 661 669 702 707 714 725 747 760 775 805 818 820 831 840 858 909 916 925 949 951 971",
  },
  "America/Anchorage": { country: "US", codes: "907" },
  "Pacific/Honolulu": { country: "US", codes: "808" },
  "America/St_Thomas": { country: "VI", codes: "340" },
  // Canada
  "America/Toronto": {
    country: "CA",
    codes:
      "226 249 263 289 343 354 365 367 382 416 418 437 438 450 468 514 519 548 579 581 613 647 683 705 742 753 819 873 905",
  },
  "America/Winnipeg": { country: "CA", codes: "204 431 584" },
  "America/Regina": { country: "CA", codes: "306 474 639" },
  "America/Edmonton": { country: "CA", codes: "368 403 587 780 825" },
  "America/Vancouver": { country: "CA", codes: "236 250 257 604 672 778" },
  "America/Halifax": { country: "CA", codes: "506 782 902" },
  "America/St_Johns": { country: "CA", codes: "709 879" },
  // Caribbean and Pacific members
  "America/Jamaica": { country: "JM", codes: "658 876" },
  "America/Santo_Domingo": { country: "DO", codes: "809 829 849" },
  "America/Nassau": { country: "BS", codes: "242" },
  "America/Barbados": { country: "BB", codes: "246" },
  "America/Port_of_Spain": { country: "TT", codes: "868" },
  "Atlantic/Bermuda": { country: "BM", codes: "441" },
  "Pacific/Guam": { country: "GU", codes: "671" },
};

/** Area codes split by a zone line; the zone covering most subscribers first. */
const MIXED: Record<string, { country: string; timeZones: string[] }> = {
  "208": { country: "US", timeZones: ["America/Boise", "America/Los_Angeles"] },
  "308": { country: "US", timeZones: ["America/Chicago", "America/Denver"] },
  "605": { country: "US", timeZones: ["America/Chicago", "America/Denver"] },
  "701": { country: "US", timeZones: ["America/Chicago", "America/Denver"] },
  "785": { country: "US", timeZones: ["America/Chicago", "America/Denver"] },
  "812": { country: "US", timeZones: ["America/Indiana/Indianapolis", "America/Chicago"] },
  "850": { country: "US", timeZones: ["America/Chicago", "America/New_York"] },
  "906": { country: "US", timeZones: ["America/Detroit", "America/Menominee"] },
  "986": { country: "US", timeZones: ["America/Boise", "America/Los_Angeles"] },
  "787": { country: "PR", timeZones: ["America/Puerto_Rico"] },
  "939": { country: "PR", timeZones: ["America/Puerto_Rico"] },
  "807": { country: "CA", timeZones: ["America/Toronto", "America/Winnipeg"] },
  "867": { country: "CA", timeZones: ["America/Whitehorse", "America/Edmonton", "America/Toronto"] },
};

export const NANP_AREA_CODES: ReadonlyMap<string, { country: string; timeZones: readonly string[] }> = (() => {
  const map = new Map<string, { country: string; timeZones: readonly string[] }>();
  for (const [zone, { country, codes }] of Object.entries(NANP_ZONES)) {
    for (const code of codes.split(" ")) {
      map.set(code, { country, timeZones: [zone] });
    }
  }
  for (const [code, entry] of Object.entries(MIXED)) map.set(code, entry);
  return map;
})();

/** Rough population centre of each NANP zone, for nearness ranking of +1 numbers. */
export const NANP_ZONE_POINTS: Readonly<Record<string, readonly [number, number]>> = {
  "America/New_York": [39.0, -77.0],
  "America/Detroit": [42.3, -83.0],
  "America/Indiana/Indianapolis": [39.8, -86.2],
  "America/Chicago": [36.0, -92.0],
  "America/Denver": [39.7, -105.0],
  "America/Boise": [43.6, -116.2],
  "America/Phoenix": [33.4, -112.1],
  "America/Los_Angeles": [37.0, -120.0],
  "America/Anchorage": [61.2, -149.9],
  "Pacific/Honolulu": [21.3, -157.9],
  "America/Toronto": [44.5, -76.0],
  "America/Winnipeg": [49.9, -97.1],
  "America/Regina": [50.4, -104.6],
  "America/Edmonton": [52.0, -114.0],
  "America/Vancouver": [49.3, -123.1],
  "America/Halifax": [45.5, -63.6],
  "America/St_Johns": [47.6, -52.7],
  "America/Whitehorse": [60.7, -135.1],
};
