-- One database per service, owned by the service's own role (docs/security.md): no service can read or
-- write another's tables. Run once per service by init.sh (docker compose) with psql variables
-- `role` (= the database name) and `password`; npm start does the same with provisionServiceDatabase
-- (@berth/event-store).
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
