//! Stations, grids, accounts and devices.

use beatbook_schema::ids::{DeviceId, GridId, StationId, UserId};
use beatbook_schema::protocol::Role;
use beatbook_store::{Account, Device, Grid, NewUser, Station, StoreError, TokenOwner};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};

use crate::error::Error;
use crate::sql::{
    account, execute, parse_id, parse_time, query, query_opt, role_str, ACCOUNT_COLUMNS,
};

pub(crate) async fn add_station(c: &Client, station: Station) -> Result<(), Error> {
    execute(
        c,
        "INSERT INTO stations (id, name) VALUES ($1, $2)",
        &[&station.id.as_str(), &station.name],
    )
    .await
    .map_err(|e| e.on_constraint(|| StoreError::Duplicate(format!("station {}", station.id))))?;
    Ok(())
}

pub(crate) async fn add_grid(c: &Client, grid: Grid) -> Result<(), Error> {
    execute(
        c,
        "INSERT INTO grids (id, station_id, name) VALUES ($1, $2, $3)",
        &[&grid.id.as_str(), &grid.station.as_str(), &grid.name],
    )
    .await
    .map_err(|e| {
        e.on_constraint(|| {
            StoreError::Duplicate(format!(
                "grid {} (or unknown station {})",
                grid.id, grid.station
            ))
        })
    })?;
    Ok(())
}

pub(crate) async fn stations(c: &Client) -> Result<Vec<Station>, Error> {
    let rows = query(c, "SELECT id, name FROM stations ORDER BY id", &[]).await?;
    rows.iter()
        .map(|r| {
            Ok(Station {
                id: StationId(r.try_get(0)?),
                name: r.try_get(1)?,
            })
        })
        .collect()
}

pub(crate) async fn grids(c: &Client) -> Result<Vec<Grid>, Error> {
    let rows = query(c, "SELECT id, station_id, name FROM grids ORDER BY id", &[]).await?;
    rows.iter()
        .map(|r| {
            Ok(Grid {
                id: GridId(r.try_get(0)?),
                station: StationId(r.try_get(1)?),
                name: r.try_get(2)?,
            })
        })
        .collect()
}

pub(crate) async fn add_user(c: &mut Client, user: NewUser) -> Result<UserId, Error> {
    let id = UserId::new_v7();
    let id_text = id.to_string();
    let tx = c.transaction().await?;
    execute(
        &tx,
        "INSERT INTO users (id, badge, name, role, station_id, password_hash)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &id_text,
            &user.badge,
            &user.name,
            &role_str(user.role),
            &user.station.as_str(),
            &user.password_hash,
        ],
    )
    .await
    .map_err(|e| {
        e.on_constraint(|| {
            StoreError::Duplicate(format!(
                "badge {} (or unknown station {})",
                user.badge, user.station
            ))
        })
    })?;
    for g in &user.grids {
        execute(
            &tx,
            "INSERT INTO user_grids (user_id, grid_id) VALUES ($1, $2)",
            &[&id_text, &g.as_str()],
        )
        .await
        .map_err(|e| e.on_constraint(|| StoreError::NotFound(format!("grid {g}"))))?;
    }
    tx.commit().await?;
    Ok(id)
}

pub(crate) async fn user_by_badge(c: &Client, badge: &str) -> Result<Option<Account>, Error> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users u WHERE u.badge = $1");
    query_opt(c, &sql, &[&badge])
        .await?
        .map(|row| {
            let (info, password_hash, disabled) = account(&row, 0)?;
            Ok(Account {
                info,
                password_hash,
                disabled,
            })
        })
        .transpose()
}

pub(crate) async fn users(c: &Client) -> Result<Vec<Account>, Error> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users u ORDER BY u.badge");
    query(c, &sql, &[])
        .await?
        .iter()
        .map(|row| {
            let (info, password_hash, disabled) = account(row, 0)?;
            Ok(Account {
                info,
                password_hash,
                disabled,
            })
        })
        .collect()
}

pub(crate) async fn set_password(
    c: &mut Client,
    badge: &str,
    password_hash: String,
) -> Result<(), Error> {
    let tx = c.transaction().await?;
    let Some(row) = query_opt(
        &tx,
        "UPDATE users SET password_hash = $1 WHERE badge = $2 RETURNING id",
        &[&password_hash, &badge],
    )
    .await?
    else {
        return Err(StoreError::NotFound(format!("badge {badge}")).into());
    };
    let user: String = row.try_get(0)?;
    execute(&tx, "DELETE FROM web_sessions WHERE user_id = $1", &[&user]).await?;
    execute(
        &tx,
        "UPDATE devices SET token_hash = NULL WHERE user_id = $1",
        &[&user],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn set_disabled(c: &Client, badge: &str, disabled: bool) -> Result<(), Error> {
    let n = execute(
        c,
        "UPDATE users SET disabled = $1 WHERE badge = $2",
        &[&disabled, &badge],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("badge {badge}")).into());
    }
    Ok(())
}

pub(crate) async fn set_role_and_grids(
    c: &mut Client,
    badge: &str,
    role: Role,
    grids: &[GridId],
) -> Result<(), Error> {
    let tx = c.transaction().await?;
    let Some(row) = query_opt(
        &tx,
        "UPDATE users SET role = $1 WHERE badge = $2 RETURNING id",
        &[&role_str(role), &badge],
    )
    .await?
    else {
        return Err(StoreError::NotFound(format!("badge {badge}")).into());
    };
    let user: String = row.try_get(0)?;
    execute(&tx, "DELETE FROM user_grids WHERE user_id = $1", &[&user]).await?;
    for g in grids {
        execute(
            &tx,
            "INSERT INTO user_grids (user_id, grid_id) VALUES ($1, $2)",
            &[&user, &g.as_str()],
        )
        .await
        .map_err(|e| e.on_constraint(|| StoreError::NotFound(format!("grid {g}"))))?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn enroll(
    c: &impl GenericClient,
    device: DeviceId,
    user: UserId,
    name: &str,
    token_hash: [u8; 32],
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let n = execute(
        c,
        "INSERT INTO devices (id, user_id, name, token_hash, issued_at, enrolled_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, token_hash = excluded.token_hash,
             issued_at = excluded.issued_at
         WHERE devices.revoked_at IS NULL AND devices.user_id = excluded.user_id",
        &[
            &device.to_string(),
            &user.to_string(),
            &name,
            &&token_hash[..],
            &now.to_rfc3339(),
        ],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn token_owner(
    c: &Client,
    token_hash: [u8; 32],
) -> Result<Option<TokenOwner>, Error> {
    let sql = format!(
        "SELECT d.id, d.issued_at, d.revoked_at, {ACCOUNT_COLUMNS}
         FROM devices d JOIN users u ON u.id = d.user_id WHERE d.token_hash = $1"
    );
    query_opt(c, &sql, &[&&token_hash[..]])
        .await?
        .map(|row| {
            let device: String = row.try_get(0)?;
            let issued: String = row.try_get(1)?;
            let revoked: Option<String> = row.try_get(2)?;
            let (user, _, disabled) = account(&row, 3)?;
            Ok(TokenOwner {
                device: parse_id(&device)?,
                user,
                issued_at: parse_time(&issued)?,
                revoked: revoked.is_some(),
                disabled,
            })
        })
        .transpose()
}

pub(crate) async fn device_revoked(c: &Client, device: DeviceId) -> Result<bool, Error> {
    let row = query_opt(
        c,
        "SELECT revoked_at IS NOT NULL FROM devices WHERE id = $1",
        &[&device.to_string()],
    )
    .await?;
    Ok(match row {
        Some(row) => row.try_get(0)?,
        None => false,
    })
}

pub(crate) async fn revoke_device(
    c: &Client,
    device: DeviceId,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let n = execute(
        c,
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        &[&now.to_rfc3339(), &device.to_string()],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("device {device}")).into());
    }
    Ok(())
}

pub(crate) async fn devices(c: &Client) -> Result<Vec<Device>, Error> {
    let rows = query(
        c,
        "SELECT d.id, d.user_id, u.badge, d.name, d.enrolled_at, d.last_seen_at, d.revoked_at,
                d.token_hash IS NOT NULL
         FROM devices d JOIN users u ON u.id = d.user_id ORDER BY d.enrolled_at, d.id",
        &[],
    )
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0)?;
            let user: String = r.try_get(1)?;
            let enrolled: String = r.try_get(4)?;
            let seen: Option<String> = r.try_get(5)?;
            let revoked: Option<String> = r.try_get(6)?;
            Ok(Device {
                id: parse_id(&id)?,
                user: parse_id(&user)?,
                badge: r.try_get(2)?,
                name: r.try_get(3)?,
                enrolled_at: parse_time(&enrolled)?,
                last_seen_at: seen.as_deref().map(parse_time).transpose()?,
                revoked_at: revoked.as_deref().map(parse_time).transpose()?,
                signed_in: r.try_get(7)?,
            })
        })
        .collect()
}
