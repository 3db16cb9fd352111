namespace OnnxGpt.Tests.Templates.Jinja;

/// <summary>The clock the template oracle used for <c>strftime_now</c>: 2026-07-26 09:05:00, in UTC.</summary>
internal sealed class FixedClock : TimeProvider
{
    public static readonly FixedClock OracleNow = new(new DateTimeOffset(2026, 7, 26, 9, 5, 0, TimeSpan.Zero));

    private readonly DateTimeOffset _now;

    public FixedClock(DateTimeOffset now) => _now = now;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override DateTimeOffset GetUtcNow() => _now;
}
