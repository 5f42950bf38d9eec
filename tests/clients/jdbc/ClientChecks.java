// JDBC (PgJDBC from Debian's libpostgresql-jdbc-java, /usr/share/java/postgresql.jar): the
// member's checks over TCP. run.sh compiles this into a temporary directory and runs it with
// the environment PGPORT, CLIENT_MEMBER, CLIENT_OWN_CODE, CLIENT_OTHER_CODE, CLIENT_NAMES_FILE,
// CLIENT_DB. Prints one "ok clients: ..." or "FAILED clients: ..." line per check; exits 1 when
// any failed.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;

public class ClientChecks {
  static final String DRIVER = "jdbc";
  static String member;
  static int failures = 0;

  static void check(String name, boolean passed, String detail) {
    if (passed) {
      System.out.println("ok clients: " + DRIVER + " " + member + ": " + name);
    } else {
      failures++;
      System.out.println("FAILED clients: " + DRIVER + " " + member + ": " + name
          + (detail.isEmpty() ? "" : " -- " + detail));
    }
  }

  static int controllerId(Connection conn, String code) throws SQLException {
    try (PreparedStatement ps = conn.prepareStatement("SELECT controller_id FROM outreach.controller WHERE code = ?")) {
      ps.setString(1, code);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) throw new SQLException("no controller " + code);
        return rs.getInt(1);
      }
    }
  }

  // The SQLSTATE a statement fails with, or null when it succeeds; rolled back either way.
  static String sqlstateOf(Connection conn, String sql, Object... params) throws SQLException {
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
      ps.execute();
      return null;
    } catch (SQLException e) {
      return e.getSQLState();
    } finally {
      conn.rollback();
    }
  }

  public static void main(String[] args) throws Exception {
    member = System.getenv("CLIENT_MEMBER");
    String ownCode = System.getenv("CLIENT_OWN_CODE");
    String otherCode = System.getenv("CLIENT_OTHER_CODE");
    String db = System.getenv().getOrDefault("CLIENT_DB", "outreach_clients");
    List<String> expectedNames = Files.readAllLines(Paths.get(System.getenv("CLIENT_NAMES_FILE")), StandardCharsets.UTF_8)
        .stream().filter(l -> !l.trim().isEmpty()).collect(Collectors.toList());

    // Trust authentication on 127.0.0.1: user only, no password.
    Properties props = new Properties();
    props.setProperty("user", member);
    props.setProperty("ApplicationName", "outreach-clients-jdbc");
    String url = "jdbc:postgresql://127.0.0.1:" + System.getenv("PGPORT") + "/" + db;
    try (Connection conn = DriverManager.getConnection(url, props)) {
      conn.setAutoCommit(false);

      try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT current_user, session_user")) {
        rs.next();
        String cu = rs.getString(1), su = rs.getString(2);
        check("connects as " + member + " (tcp)", member.equals(cu) && member.equals(su), "got " + cu + "/" + su);
      }

      int ownId = controllerId(conn, ownCode);
      int otherId = controllerId(conn, otherCode);

      List<String> names = new ArrayList<>();
      List<Integer> ids = new ArrayList<>();
      try (Statement st = conn.createStatement();
           ResultSet rs = st.executeQuery(
               "SELECT controller_id, first_name || ' ' || last_name FROM outreach.participant ORDER BY participant_id")) {
        while (rs.next()) {
          ids.add(rs.getInt(1));
          names.add(rs.getString(2));
        }
      }
      conn.rollback();
      check("sees only " + ownCode + "'s " + expectedNames.size() + " participants, by name",
          names.equals(expectedNames) && ids.stream().allMatch(id -> id == ownId),
          "got " + names.size() + " rows: " + names + " of controllers " + ids);

      String insertOwn = "inserts a participant for " + ownCode + " (rolled back)";
      try (PreparedStatement ps = conn.prepareStatement(
               "INSERT INTO outreach.participant (first_name, last_name) VALUES (?, ?) RETURNING controller_id")) {
        ps.setString(1, "Temporary");
        ps.setString(2, "Row");
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          int got = rs.getInt(1);
          check(insertOwn, got == ownId, "got controller_id " + got);
        }
      } catch (SQLException e) {
        check(insertOwn, false, "SQLSTATE " + e.getSQLState() + ": " + e.getMessage());
      } finally {
        conn.rollback();
      }

      String state = sqlstateOf(conn,
          "INSERT INTO outreach.participant (controller_id, first_name, last_name) VALUES (?, ?, ?)",
          otherId, "Cross", "Controller");
      check("insert with " + otherCode + "'s controller_id refused with 42501", "42501".equals(state),
          "got SQLSTATE " + state);

      state = sqlstateOf(conn, "SELECT ethnicity FROM outreach.participant");
      check("select of special-category column ethnicity refused with 42501", "42501".equals(state),
          "got SQLSTATE " + state);
    }
    System.exit(failures == 0 ? 0 : 1);
  }
}
