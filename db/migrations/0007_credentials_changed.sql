-- Custom SQL migration file, put your code below! --
-- Every change that can narrow or end an API key is announced on keelson_credentials when its
-- transaction commits, so API processes drop the keys they cached (api/src/auth/api-key-cache.ts).
CREATE FUNCTION "keelson_notify_credentials_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('keelson_credentials', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "api_keys_credentials_changed"
  AFTER UPDATE OF "tenant_id", "prefix", "secret_hash", "scopes", "created_by", "expires_at", "revoked_at" OR DELETE OR TRUNCATE ON "api_keys"
  FOR EACH STATEMENT EXECUTE FUNCTION "keelson_notify_credentials_changed"();
--> statement-breakpoint
CREATE TRIGGER "memberships_credentials_changed"
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "memberships"
  FOR EACH STATEMENT EXECUTE FUNCTION "keelson_notify_credentials_changed"();
--> statement-breakpoint
CREATE TRIGGER "customer_users_credentials_changed"
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "customer_users"
  FOR EACH STATEMENT EXECUTE FUNCTION "keelson_notify_credentials_changed"();
