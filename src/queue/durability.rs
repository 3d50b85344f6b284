//! Operators' settings and closings: live in Redis first, durable in
//! PostgreSQL after. A change takes effect in Redis's `cfg` hash (every server
//! and script reads it) whatever PostgreSQL's state, and is marked pending
//! there (`settings_set`, `close`); when PostgreSQL could not store it at once
//! (an outage), every server's background sync writes it once PostgreSQL
//! answers again. Writes carry the change's version and only a newer version
//! replaces the stored one, so several servers syncing at once, or a late
//! sync, never put older settings back (see [`QueueService::sync_settings`]).

use super::{QueueService, QueueSettings, QueueSettingsChange};
use crate::catalog::{Catalog, Concert};
use crate::domain::ConcertId;
use crate::error::{Error, ErrorCode, Result};
use crate::store::scripts;
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A line's settings as Redis holds them, with what PostgreSQL lacks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveSettings {
    pub settings: QueueSettings,
    /// When the sale was closed, as Redis recorded it.
    pub closed_at: Option<DateTime<Utc>>,
    /// The version of a change PostgreSQL does not have yet.
    pub pending: Option<u64>,
}

impl LiveSettings {
    /// Reads the `cfg` hash; a missing setting is PostgreSQL's (`stored`).
    fn from_redis_fields(fields: &[(String, String)], stored: QueueSettings) -> Self {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.parse::<i64>().ok())
        };
        Self {
            settings: QueueSettings::from_redis_fields(fields, stored),
            closed_at: field("closed_at_ms").and_then(DateTime::from_timestamp_millis),
            pending: field("pending").and_then(|v| u64::try_from(v).ok()),
        }
    }

    /// Whether PostgreSQL has these settings.
    pub fn durable(&self) -> bool {
        self.pending.is_none()
    }
}

impl QueueService {
    /// The live settings of a concert: Redis's copy, any missing field from PostgreSQL's.
    pub async fn settings(&self, concert: &Concert) -> Result<QueueSettings> {
        Ok(self.live_settings(concert).await?.settings)
    }

    /// The live settings and whether PostgreSQL has them yet.
    pub async fn live_settings(&self, concert: &Concert) -> Result<LiveSettings> {
        let fields: Vec<(String, String)> = self
            .redis
            .conn()
            .hgetall(self.redis.keys.concert(concert.id).cfg())
            .await?;
        Ok(LiveSettings::from_redis_fields(
            &fields,
            concert.stored_settings,
        ))
    }

    /// Applies an operator's change where it takes effect, Redis's live copy
    /// (every server and script reads it), whatever PostgreSQL's state; then
    /// brings PostgreSQL's durable copy up to date, waiting for it at most the
    /// database timeout. Only the settings the change names are written: a
    /// change of other settings made meanwhile on another server stays.
    /// Returns the settings now in force and whether PostgreSQL has them: if
    /// not, the change is marked pending and the background sync
    /// ([`QueueService::sync_settings`]) writes it once PostgreSQL answers.
    pub async fn update_settings(
        &self,
        concert: &Concert,
        change: &QueueSettingsChange,
    ) -> Result<(QueueSettings, bool)> {
        // Checked against the settings in force: every bound is one setting's.
        let updated = self
            .settings(concert)
            .await?
            .apply(change)
            .map_err(|message| Error::invalid(ErrorCode::InvalidSettings, message))?;
        let fields = change.redis_fields(updated);
        if fields.is_empty() {
            let live = self.live_settings(concert).await?;
            return Ok((live.settings, live.durable()));
        }
        let keys = self.redis.keys.concert(concert.id);
        scripts::settings_set(&mut self.redis.conn(), &keys, &fields).await?;
        // This server's polls see the change at once; the others' within the
        // line facts' time.
        self.line_cache.forget(concert.id);
        let durable = self.try_sync(concert).await;
        // As they stand now, another server's change made meanwhile included.
        let in_force = self.settings(concert).await?;
        Ok((in_force, durable))
    }

    /// Writes settings to the concert's Redis `cfg` hash as they are in
    /// PostgreSQL already (a new concert's), so nothing is pending.
    pub async fn publish_settings(
        &self,
        concert: ConcertId,
        settings: QueueSettings,
    ) -> Result<()> {
        let _: () = self
            .redis
            .conn()
            .hset_multiple(
                self.redis.keys.concert(concert).cfg(),
                &settings.to_redis_fields(),
            )
            .await?;
        Ok(())
    }

    /// Ends a sale in Redis first (no more joins, admissions or holds; the
    /// line dismissed), whatever PostgreSQL's state, then records the closing
    /// in PostgreSQL within the database timeout (else the background sync does).
    /// Returns when it closed, how many were still waiting, and whether
    /// PostgreSQL has the closing yet.
    pub async fn close(&self, concert: &Concert) -> Result<(DateTime<Utc>, u64, bool)> {
        let keys = self.redis.admission_keys(concert.id);
        let closed = scripts::close(&mut self.redis.conn(), &keys).await?;
        self.line_cache.forget(concert.id);
        let closed_at = DateTime::from_timestamp_millis(closed.closed_at_ms)
            .ok_or_else(|| Error::internal("the closing time is out of range"))?;
        let durable = self.try_sync(concert).await;
        Ok((closed_at, closed.dismissed, durable))
    }

    /// [`QueueService::sync_settings`] within the database timeout; whether
    /// PostgreSQL is up to date. A failure is left to the background sync.
    async fn try_sync(&self, concert: &Concert) -> bool {
        match tokio::time::timeout(self.durable_within, self.sync_settings(concert)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(concert_id = %concert.id, error = ?e, "settings in force in Redis; PostgreSQL is behind until the sync reaches it");
                false
            }
            Err(_) => {
                tracing::warn!(concert_id = %concert.id, "settings in force in Redis; PostgreSQL did not answer in time, the sync will bring it up to date");
                false
            }
        }
    }

    /// [`QueueService::sync_settings`] if a change is pending (one cheap Redis
    /// read otherwise); whether one was synced.
    pub async fn sync_if_pending(&self, concert: &Concert) -> Result<bool> {
        let pending: bool = self
            .redis
            .conn()
            .hexists(self.redis.keys.concert(concert.id).cfg(), "pending")
            .await?;
        if pending {
            self.sync_settings(concert).await?;
        }
        Ok(pending)
    }

    /// Brings PostgreSQL's copy of a line's settings up to Redis's, if a change
    /// is pending: writes the live settings under their version (only a newer
    /// version replaces the stored one), then clears the marker of that version
    /// (a change made meanwhile stays pending). Idempotent, and safe to run on
    /// every server at once.
    pub async fn sync_settings(&self, concert: &Concert) -> Result<()> {
        let live = self.live_settings(concert).await?;
        let Some(version) = live.pending else {
            return Ok(());
        };
        self.catalog
            .save_settings(concert.id, live.settings, live.closed_at, version)
            .await?;
        let keys = self.redis.keys.concert(concert.id);
        scripts::settings_synced(&mut self.redis.conn(), &keys, version).await?;
        Ok(())
    }
}

/// How often each server looks for settings PostgreSQL lacks.
pub const SETTINGS_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Syncs pending settings every [`SETTINGS_SYNC_INTERVAL`] until `stop` is
/// cancelled, each concert's sync bounded by `limit`. A failing sync is
/// logged once when it starts failing and once when it succeeds again.
pub async fn run_settings_sync(
    queue: QueueService,
    catalog: Arc<Catalog>,
    limit: Duration,
    stop: CancellationToken,
) {
    let mut failing = false;
    while stop
        .run_until_cancelled(tokio::time::sleep(SETTINGS_SYNC_INTERVAL))
        .await
        .is_some()
    {
        let snapshot = catalog.snapshot();
        let mut failure = None;
        for concert in &snapshot.concerts {
            let synced = stop
                .run_until_cancelled(tokio::time::timeout(limit, queue.sync_if_pending(concert)))
                .await;
            match synced {
                None => return,
                Some(Ok(Ok(false))) => {}
                Some(Ok(Ok(true))) => {
                    tracing::info!(concert_id = %concert.id, "queue settings made durable in PostgreSQL")
                }
                Some(Ok(Err(e))) => failure = Some(format!("{e:?}")),
                Some(Err(_)) => failure = Some(format!("no answer within {limit:?}")),
            }
        }
        match (failure, failing) {
            (Some(error), false) => {
                tracing::warn!(%error, "settings sync failing: PostgreSQL is behind Redis's live settings");
                failing = true;
            }
            (None, true) => {
                tracing::info!("settings sync recovered");
                failing = false;
            }
            _ => {}
        }
    }
}
