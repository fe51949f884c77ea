import type { Logger } from 'pino';
import type { PooledClient } from './client-pool.js';
import { readText } from './response-text.js';
import { sqlString } from '../sql/sql-literals.js';

/**
 * A small demo data set for the embedded engine (`protocol: embedded`, `embedded_path: :memory:`), so that a
 * fresh gateway has something to query and dynamic tools to discover. Deterministic: 1000 synthetic taxi trips
 * in eight cities over January 2024, a city dimension, and three views (one parameterized, with a JSON COMMENT
 * in the format altinity-mcp's dynamic tools read).
 *
 * Every statement is idempotent, so seeding twice is harmless.
 */

export const DEMO_DATABASE = 'demo';
export const DEMO_TRIP_COUNT = 1000;

const CITIES: ReadonlyArray<readonly [string, string, number]> = [
  ['Berlin', 'Germany', 3_850_000],
  ['Paris', 'France', 2_100_000],
  ['London', 'United Kingdom', 8_900_000],
  ['Madrid', 'Spain', 3_300_000],
  ['Rome', 'Italy', 2_800_000],
  ['Vienna', 'Austria', 2_000_000],
  ['Amsterdam', 'Netherlands', 920_000],
  ['Prague', 'Czechia', 1_350_000],
];

const cityList = CITIES.map(([c]) => `'${c}'`).join(', ');

const tripsByCityComment = JSON.stringify({
  title: 'Trips by city',
  description: 'Number of trips, average distance and total fare for one city in the demo taxi data.',
  params: { city: 'City name, e.g. Berlin, Paris or London' },
});

const tripsBetweenComment = JSON.stringify({
  title: 'Trips between two dates',
  description: 'Trips per city whose pickup date lies between two dates (inclusive).',
  params: { from: 'First day, YYYY-MM-DD', to: 'Last day, YYYY-MM-DD' },
});


/** Statements that create the demo objects (no data). */
export const DEMO_SCHEMA: readonly string[] = [
  `CREATE DATABASE IF NOT EXISTS ${DEMO_DATABASE} COMMENT 'Demo data set of clickhouse-mcp-gateway (synthetic taxi trips)'`,
  `CREATE TABLE IF NOT EXISTS ${DEMO_DATABASE}.cities (
    city LowCardinality(String) COMMENT 'City name',
    country LowCardinality(String) COMMENT 'Country the city is in',
    population UInt32 COMMENT 'Approximate number of inhabitants'
  ) ENGINE = MergeTree ORDER BY city
  COMMENT 'Cities served by the demo taxi company'`,
  `CREATE TABLE IF NOT EXISTS ${DEMO_DATABASE}.trips (
    trip_id UInt64 COMMENT 'Unique trip identifier',
    city LowCardinality(String) COMMENT 'City where the trip started',
    pickup_time DateTime('UTC') COMMENT 'When the passenger was picked up (UTC)',
    dropoff_time DateTime('UTC') COMMENT 'When the passenger was dropped off (UTC)',
    passenger_count UInt8 COMMENT 'Number of passengers',
    distance_km Float64 COMMENT 'Trip distance in kilometres',
    fare_amount Decimal(10, 2) COMMENT 'Fare in EUR, without tip',
    tip_amount Decimal(10, 2) COMMENT 'Tip in EUR',
    payment_type Enum8('card' = 1, 'cash' = 2, 'app' = 3) COMMENT 'How the trip was paid',
    rating Nullable(UInt8) COMMENT 'Passenger rating 1-5, NULL when not rated'
  ) ENGINE = MergeTree ORDER BY (city, pickup_time)
  COMMENT 'Synthetic taxi trips in January 2024'`,
  `CREATE VIEW IF NOT EXISTS ${DEMO_DATABASE}.trips_by_city AS
    SELECT city, count() AS trips, round(avg(distance_km), 2) AS avg_distance_km, sum(fare_amount) AS total_fare
    FROM ${DEMO_DATABASE}.trips
    WHERE city = {city:String}
    GROUP BY city
    COMMENT ${sqlString(tripsByCityComment)}`,
  `CREATE VIEW IF NOT EXISTS ${DEMO_DATABASE}.trips_between AS
    SELECT city, count() AS trips, sum(fare_amount + tip_amount) AS revenue
    FROM ${DEMO_DATABASE}.trips
    WHERE toDate(pickup_time) BETWEEN {from:Date} AND {to:Date}
    GROUP BY city
    ORDER BY city
    COMMENT ${sqlString(tripsBetweenComment)}`,
  `CREATE VIEW IF NOT EXISTS ${DEMO_DATABASE}.daily_revenue AS
    SELECT toDate(pickup_time) AS day, count() AS trips, sum(fare_amount + tip_amount) AS revenue
    FROM ${DEMO_DATABASE}.trips
    GROUP BY day
    ORDER BY day
    COMMENT 'Trips and revenue (fare plus tip) per day'`,
];

/** Fills the two tables; run only when they are empty. */
export const DEMO_DATA: readonly string[] = [
  `INSERT INTO ${DEMO_DATABASE}.cities (city, country, population) VALUES ${CITIES.map(([c, k, p]) => `('${c}', '${k}', ${p})`).join(', ')}`,
  `INSERT INTO ${DEMO_DATABASE}.trips
    SELECT
      number + 1 AS trip_id,
      [${cityList}][(number * 7919) % ${CITIES.length} + 1] AS city,
      toDateTime('2024-01-01 00:00:00', 'UTC') + toIntervalSecond(number * 2671) AS pickup_time,
      pickup_time + toIntervalSecond(300 + (number * 613) % 3000) AS dropoff_time,
      toUInt8(1 + (number * 13) % 4) AS passenger_count,
      round(0.8 + ((number * 37) % 230) / 10, 1) AS distance_km,
      toDecimal64(3.5 + distance_km * 1.9, 2) AS fare_amount,
      toDecimal64(((number * 17) % 6) * 0.5, 2) AS tip_amount,
      CAST(['card', 'cash', 'app'][(number * 11) % 3 + 1] AS Enum8('card' = 1, 'cash' = 2, 'app' = 3)) AS payment_type,
      if(number % 5 = 0, NULL, toUInt8(1 + (number * 3) % 5)) AS rating
    FROM numbers(${DEMO_TRIP_COUNT})`,
];

/** Creates the demo objects and fills them if empty. `exec` runs one statement and returns its text output. */
export async function seedDemo(exec: (sql: string) => Promise<string>): Promise<void> {
  for (const statement of DEMO_SCHEMA) await exec(statement);
  const count = Number((await exec(`SELECT count() FROM ${DEMO_DATABASE}.trips`)).trim());
  if (count > 0) return;
  for (const statement of DEMO_DATA) await exec(statement);
}

/** Creates the demo data set in an embedded client (bypasses the query guard: the statements are the gateway's own). */
export async function seedEmbeddedClient(pooled: PooledClient, log: Logger): Promise<void> {
  await seedDemo(async (sql) => {
    const res = await pooled.client.exec({ query: sql });
    return readText(res.stream, 64 * 1024);
  });
  log.info('Demo data set ready in the embedded engine (database demo)');
}
