//! The stories of an issue (`issue_stories`), in their order.

use super::Issues;
use crate::store::StoreError;

impl Issues<'_> {
    /// The ids of the stories in the issue.
    pub async fn story_ids(&mut self, issue_id: i64) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(
            sqlx::query_scalar("SELECT story_id FROM issue_stories WHERE issue_id = $1")
                .bind(issue_id)
                .fetch_all(&mut *conn)
                .await?,
        )
    }

    /// Puts a story in the issue at `position`; a story the newsletter
    /// carried before is a unique violation.
    pub async fn add_story(
        &mut self,
        issue_id: i64,
        newsletter_id: i64,
        story_id: i64,
        position: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "INSERT INTO issue_stories (issue_id, newsletter_id, story_id, position) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(issue_id)
        .bind(newsletter_id)
        .bind(story_id)
        .bind(position)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn remove_story(&mut self, issue_id: i64, story_id: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query("DELETE FROM issue_stories WHERE issue_id = $1 AND story_id = $2")
            .bind(issue_id)
            .bind(story_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Gives every story of the issue back (for a later issue).
    pub async fn remove_stories(&mut self, issue_id: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query("DELETE FROM issue_stories WHERE issue_id = $1")
            .bind(issue_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    pub async fn set_story_position(
        &mut self,
        issue_id: i64,
        story_id: i64,
        position: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query("UPDATE issue_stories SET position = $1 WHERE issue_id = $2 AND story_id = $3")
            .bind(position)
            .bind(issue_id)
            .bind(story_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
