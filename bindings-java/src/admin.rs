//! `io.headwater.Admin`'s native half: topic administration over the network.

use headwater::runtime::block_on;
use headwater::{Admin, TlsConfig};
use jni::objects::{JObjectArray, JString, JValue};
use jni::sys::{jint, jlong};

use crate::{
    free, from_handle, into_handle, new_object_array, options, string, string_pairs, topic_config,
};

fn admin<'a>(handle: jlong) -> crate::R<&'a Admin> {
    from_handle(handle, "admin")
}

natives! {
    fn Java_io_headwater_Native_adminConnect(env, endpoint: JString<'l>) -> jlong {
        let ep = string(env, &endpoint, "endpoint")?;
        Ok(into_handle(block_on(Admin::connect(&ep))?))
    }

    /// `static native long adminConnectWith(String endpoint, String[] keys, String[] values)`: TLS
    /// options (`tls`, `tlsCaFile`, `tlsCertFile`, `tlsKeyFile`, `tlsServerName`), parsed by core.
    fn Java_io_headwater_Native_adminConnectWith(
        env,
        endpoint: JString<'l>,
        keys: JObjectArray<'l>,
        values: JObjectArray<'l>,
    ) -> jlong {
        let ep = string(env, &endpoint, "endpoint")?;
        let pairs = string_pairs(env, &keys, &values, "TLS option")?;
        let tls = TlsConfig::from_options(options(&pairs))?;
        Ok(into_handle(block_on(Admin::connect_with(&ep, &tls))?))
    }

    /// `static native void adminCreateTopic(long h, String name, String[] keys, String[] values)`:
    /// a topic from string options, parsed and checked by core (the same options as
    /// `TestBroker`'s).
    fn Java_io_headwater_Native_adminCreateTopic(
        env,
        handle: jlong,
        name: JString<'l>,
        keys: JObjectArray<'l>,
        values: JObjectArray<'l>,
    ) {
        let a = admin(handle)?;
        let name = string(env, &name, "topic")?;
        Ok(block_on(a.create_topic(&name, topic_config(env, &keys, &values)?))?)
    }

    fn Java_io_headwater_Native_adminDeleteTopic(env, handle: jlong, name: JString<'l>) {
        let a = admin(handle)?;
        Ok(block_on(a.delete_topic(&string(env, &name, "topic")?))?)
    }

    /// `static native TopicInfo[] adminListTopics(long h)`
    fn Java_io_headwater_Native_adminListTopics(env, handle: jlong) -> JObjectArray<'l> {
        let topics = block_on(admin(handle)?.list_topics())?;
        new_object_array(env, "io/headwater/TopicInfo", &topics, |env, cls, t| {
            let name = env.new_string(&t.name)?;
            let compression = env.new_string(&t.compression)?;
            let status = env.new_string(&t.status)?;
            // `TopicInfo(String, int, int, String, long retentionSecs (-1 = none), String)`
            Ok(env.new_object(
                cls,
                "(Ljava/lang/String;IILjava/lang/String;JLjava/lang/String;)V",
                &[
                    JValue::Object(&name),
                    JValue::Int(jint::try_from(t.partitions).unwrap_or(jint::MAX)),
                    JValue::Int(jint::try_from(t.replication).unwrap_or(jint::MAX)),
                    JValue::Object(&compression),
                    JValue::Long(t.retention_secs.map_or(-1, jlong::from)),
                    JValue::Object(&status),
                ],
            )?)
        })
    }

    fn Java_io_headwater_Native_adminFree(_env, handle: jlong) {
        drop(free::<Admin>(handle));
        Ok(())
    }
}
