//! The date formats of GoCD notification bodies, all turned into UTC instants.
//!
//! - The flat body: `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, read as UTC.
//! - API 1.0 and 2.0: the same pattern, but GoCD servers before 26.1 wrote the server's local time
//!   followed by a literal `Z`. Those values are read as local time in a configured zone.
//! - API 3.0 and 4.0: `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, an instant with an offset such as `+0000`.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// How to read a date string of a notification body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateFormat {
    /// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` meaning UTC (the flat body).
    UtcZ,
    /// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` meaning local time in the given zone (API 1.0 and 2.0).
    LegacyLocal(Tz),
    /// `yyyy-MM-dd'T'HH:mm:ss.SSSZ` with a `+hhmm` or `-hhmm` offset (API 3.0 and 4.0).
    Offset,
}

impl DateFormat {
    /// Returns the pattern that messages show as the expected format.
    pub fn pattern(self) -> &'static str {
        match self {
            DateFormat::UtcZ | DateFormat::LegacyLocal(_) => "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
            DateFormat::Offset => "yyyy-MM-dd'T'HH:mm:ss.SSSZ (offset such as +0000)",
        }
    }

    /// Parses `text`, or returns why it is not a date of this format.
    ///
    /// The shape is checked first, so a text with the wrong suffix gets [`DateError::Format`]
    /// even when its date does not exist either.
    pub fn parse(self, text: &str) -> Result<DateTime<Utc>, DateError> {
        let (digits, suffix) = split_date_time(text).ok_or(DateError::Format)?;
        let offset = match self {
            DateFormat::UtcZ | DateFormat::LegacyLocal(_) if suffix == "Z" => None,
            DateFormat::Offset => Some(parse_offset(suffix).ok_or(DateError::Format)?),
            _ => return Err(DateError::Format),
        };
        let local = digits.to_local()?;

        match (self, offset) {
            (DateFormat::LegacyLocal(zone), _) => Ok(resolve_local(zone, local)),
            // Servers that run on UTC send +0000, which needs no subtraction.
            (_, Some(offset)) if offset.local_minus_utc() != 0 => local
                .checked_sub_offset(offset)
                .map(|utc| utc.and_utc())
                // Four-digit years lie far inside chrono's range, so this error cannot occur.
                .ok_or(DateError::Format),
            _ => Ok(local.and_utc()),
        }
    }
}

/// Reason that a text is not a date of a [`DateFormat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateError {
    /// The text does not have the shape of the format.
    Format,
    /// The text has the shape, but names a day that does not exist, such as 2026-02-29.
    NotInCalendar { year: u32, month: u32, day: u32 },
    /// The text has the shape, but the hour, minute or second is out of range, such as 24:00:00.
    NotATimeOfDay { hour: u32, minute: u32, second: u32 },
}

/// The numbers of `yyyy-MM-ddTHH:mm:ss.SSS`, not yet checked against the calendar.
struct DateTimeDigits {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millisecond: u32,
}

impl DateTimeDigits {
    /// Returns the local date-time, or the error naming the date or time that does not exist.
    fn to_local(&self) -> Result<NaiveDateTime, DateError> {
        let date = NaiveDate::from_ymd_opt(self.year as i32, self.month, self.day).ok_or(
            DateError::NotInCalendar {
                year: self.year,
                month: self.month,
                day: self.day,
            },
        )?;
        date.and_hms_milli_opt(self.hour, self.minute, self.second, self.millisecond)
            .ok_or(DateError::NotATimeOfDay {
                hour: self.hour,
                minute: self.minute,
                second: self.second,
            })
    }
}

/// Splits `yyyy-MM-ddTHH:mm:ss.SSS<suffix>` into its numbers and the suffix, checking every
/// character of the first 23.
fn split_date_time(text: &str) -> Option<(DateTimeDigits, &str)> {
    let bytes: &[u8; 23] = text.as_bytes().get(..23)?.try_into().ok()?;
    let separators_match = bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && bytes[19] == b'.';
    if !separators_match {
        return None;
    }

    // The digit pairs cover every byte of the first 23 that is not a separator, and `two_digits`
    // rejects anything but ASCII digits, so the slice at 23 is on a character boundary.
    let digits = DateTimeDigits {
        year: two_digits(bytes[0], bytes[1])? * 100 + two_digits(bytes[2], bytes[3])?,
        month: two_digits(bytes[5], bytes[6])?,
        day: two_digits(bytes[8], bytes[9])?,
        hour: two_digits(bytes[11], bytes[12])?,
        minute: two_digits(bytes[14], bytes[15])?,
        second: two_digits(bytes[17], bytes[18])?,
        millisecond: two_digits(bytes[20], bytes[21])? * 10 + digit(bytes[22])?,
    };
    Some((digits, &text[23..]))
}

/// Reads one ASCII digit, or returns `None` for any other byte.
fn digit(byte: u8) -> Option<u32> {
    let value = byte.wrapping_sub(b'0');
    (value <= 9).then_some(u32::from(value))
}

/// Reads two ASCII digits as a number from 0 to 99.
fn two_digits(tens: u8, ones: u8) -> Option<u32> {
    Some(digit(tens)? * 10 + digit(ones)?)
}

/// Parses an offset written as `+hhmm` or `-hhmm`, as Java's `SimpleDateFormat` pattern `Z` writes it.
fn parse_offset(suffix: &str) -> Option<FixedOffset> {
    let bytes = suffix.as_bytes();
    if bytes.len() != 5 {
        return None;
    }
    let sign = match bytes[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = two_digits(bytes[1], bytes[2])? as i32;
    let minutes = two_digits(bytes[3], bytes[4])? as i32;
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Converts a local time in `zone` to UTC, deterministically around daylight-saving changes.
///
/// A time that occurs twice (clocks set back) is read with the earlier offset, so it is the first
/// of the two instants. A time that does not exist (clocks set forward) is read with the offset in
/// force just before the change, which moves it forward by the length of the gap. Both rules are
/// the ones `java.time.ZonedDateTime.of` applies.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(instant) = zone.from_local_datetime(&local).earliest() {
        return instant.with_timezone(&Utc);
    }

    // Gaps last at most a day (Samoa skipped 2011-12-30), so an hour-by-hour walk back finds a
    // local time that exists, and with it the offset in force before the gap.
    let offset_before = (1..=48)
        .find_map(|hours| {
            zone.from_local_datetime(&(local - Duration::hours(hours)))
                .earliest()
        })
        .map(|instant| instant.offset().fix())
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
    (local - Duration::seconds(i64::from(offset_before.local_minus_utc()))).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn utc_z_format_reads_utc() {
        assert_eq!(
            DateFormat::UtcZ.parse("2011-07-14T19:43:37.100Z"),
            Ok(utc("2011-07-14T19:43:37.100Z"))
        );
    }

    #[test]
    fn utc_z_format_rejects_other_shapes() {
        for text in [
            "2011-07-14T19:43:37Z",
            "2011-07-14T19:43:37.1Z",
            "2011-07-14 19:43:37.100Z",
            "2011-07-14T19:43:37.100",
            "2011-07-14T19:43:37.100+0000",
            "2011-07-14T19:43:37.100ZZ",
            "+011-07-14T19:43:37.100Z",
            "２０11-07-14T19:43:37.100Z",
            "",
        ] {
            assert_eq!(
                DateFormat::UtcZ.parse(text),
                Err(DateError::Format),
                "{text}"
            );
        }
    }

    #[test]
    fn missing_days_are_not_in_calendar() {
        for (text, year, month, day) in [
            ("2011-02-30T19:43:37.100Z", 2011, 2, 30),
            ("2026-02-29T00:00:00.000Z", 2026, 2, 29),
            ("2026-04-31T00:00:00.000Z", 2026, 4, 31),
            ("2026-13-01T00:00:00.000Z", 2026, 13, 1),
            ("2026-00-10T00:00:00.000Z", 2026, 0, 10),
            ("2026-01-00T00:00:00.000Z", 2026, 1, 0),
        ] {
            assert_eq!(
                DateFormat::UtcZ.parse(text),
                Err(DateError::NotInCalendar { year, month, day }),
                "{text}"
            );
        }
        assert!(DateFormat::UtcZ.parse("2024-02-29T00:00:00.000Z").is_ok());
        assert_eq!(
            DateFormat::Offset.parse("2026-02-29T10:00:00.000+0100"),
            Err(DateError::NotInCalendar {
                year: 2026,
                month: 2,
                day: 29
            })
        );
    }

    #[test]
    fn time_out_of_range_is_named() {
        for (text, hour, minute, second) in [
            ("2011-07-14T24:00:00.000Z", 24, 0, 0),
            ("2011-07-14T19:60:00.000Z", 19, 60, 0),
            ("2011-07-14T19:43:60.000Z", 19, 43, 60),
        ] {
            assert_eq!(
                DateFormat::UtcZ.parse(text),
                Err(DateError::NotATimeOfDay {
                    hour,
                    minute,
                    second
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn shape_is_checked_before_calendar() {
        // An API 3.0 date with the legacy `Z` suffix on a day that does not exist.
        assert_eq!(
            DateFormat::Offset.parse("2026-02-29T10:00:00.000Z"),
            Err(DateError::Format)
        );
        assert_eq!(
            DateFormat::UtcZ.parse("2026-02-29T10:00:00.000+0000"),
            Err(DateError::Format)
        );
    }

    #[test]
    fn offset_format_reads_offsets() {
        assert_eq!(
            DateFormat::Offset.parse("2026-03-23T17:27:58.000+0000"),
            Ok(utc("2026-03-23T17:27:58Z"))
        );
        assert_eq!(
            DateFormat::Offset.parse("2026-03-23T17:27:58.250+0530"),
            Ok(utc("2026-03-23T11:57:58.250Z"))
        );
        assert_eq!(
            DateFormat::Offset.parse("2026-03-23T17:27:58.000-0800"),
            Ok(utc("2026-03-24T01:27:58Z"))
        );
    }

    #[test]
    fn offset_format_rejects_z_and_colon_offsets() {
        for text in [
            "2026-03-23T17:27:58.000Z",
            "2026-03-23T17:27:58.000+00:00",
            "2026-03-23T17:27:58.000+2400",
            "2026-03-23T17:27:58.000+0060",
            "2026-03-23T17:27:58.000 0000",
            "2026-03-23T17:27:58.000+000",
        ] {
            assert_eq!(
                DateFormat::Offset.parse(text),
                Err(DateError::Format),
                "{text}"
            );
        }
    }

    #[test]
    fn legacy_format_reads_local_time_of_zone() {
        let berlin = DateFormat::LegacyLocal(chrono_tz::Europe::Berlin);
        assert_eq!(
            berlin.parse("2026-01-15T10:00:00.000Z"),
            Ok(utc("2026-01-15T09:00:00Z"))
        );
        assert_eq!(
            berlin.parse("2026-07-15T10:00:00.000Z"),
            Ok(utc("2026-07-15T08:00:00Z"))
        );
        assert_eq!(
            DateFormat::LegacyLocal(chrono_tz::UTC).parse("2026-07-15T10:00:00.000Z"),
            Ok(utc("2026-07-15T10:00:00Z"))
        );
    }

    #[test]
    fn legacy_format_rejects_offsets() {
        let berlin = DateFormat::LegacyLocal(chrono_tz::Europe::Berlin);
        assert_eq!(
            berlin.parse("2026-01-15T10:00:00.000+0100"),
            Err(DateError::Format)
        );
    }

    #[test]
    fn legacy_overlap_takes_earlier_instant() {
        // Berlin set clocks back from 03:00 CEST to 02:00 CET on 2026-10-25, so 02:30 happened twice.
        let berlin = DateFormat::LegacyLocal(chrono_tz::Europe::Berlin);
        assert_eq!(
            berlin.parse("2026-10-25T02:30:00.000Z"),
            Ok(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn legacy_gap_moves_forward_by_gap() {
        // Berlin set clocks forward from 02:00 CET to 03:00 CEST on 2026-03-29: 02:30 never existed.
        let berlin = DateFormat::LegacyLocal(chrono_tz::Europe::Berlin);
        let instant = berlin.parse("2026-03-29T02:30:00.000Z").unwrap();
        assert_eq!(instant, utc("2026-03-29T01:30:00Z"));
        assert_eq!(
            instant
                .with_timezone(&chrono_tz::Europe::Berlin)
                .naive_local(),
            NaiveDate::from_ymd_opt(2026, 3, 29)
                .unwrap()
                .and_hms_opt(3, 30, 0)
                .unwrap()
        );
    }

    #[test]
    fn legacy_gap_of_whole_day() {
        // Samoa skipped 2011-12-30 when it moved from UTC-10 to UTC+14.
        let apia = DateFormat::LegacyLocal(chrono_tz::Pacific::Apia);
        assert_eq!(
            apia.parse("2011-12-30T12:00:00.000Z"),
            Ok(utc("2011-12-30T22:00:00Z"))
        );
    }
}
