//! `io.headwater.Admin`'s native half: topic administration over the network.

use headwater::runtime::block_on;
use headwater::{Admin, TlsConfig, TopicConfig};
use jni::objects::{JClass, JObject, JObjectArray, JString, JValue};
use jni::sys::{jint, jlong};
use jni::JNIEnv;

use crate::{options, run, string, string_pairs, Fail, R};

fn admin<'a>(handle: jlong) -> R<&'a Admin> {
    if handle == 0 {
        return Err(Fail::Core(headwater::Error::closed(
            "the admin handle is gone",
        )));
    }
    // SAFETY: `handle` came from `adminConnect`; Java frees it only once nothing can call it.
    Ok(unsafe { &*(handle as *const Admin) })
}

#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_adminConnect<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    endpoint: JString<'l>,
) -> jlong {
    run(&mut env, 0, |env| {
        let ep = string(env, &endpoint, "endpoint")?;
        let a = block_on(Admin::connect(&ep))?;
        Ok(Box::into_raw(Box::new(a)) as jlong)
    })
}

/// `static native long adminConnectWith(String endpoint, String[] keys, String[] values)`: TLS
/// options (`tls`, `tlsCaFile`, `tlsCertFile`, `tlsKeyFile`, `tlsServerName`), parsed by core.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_adminConnectWith<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    endpoint: JString<'l>,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
) -> jlong {
    run(&mut env, 0, |env| {
        let ep = string(env, &endpoint, "endpoint")?;
        let mut tls = TlsConfig::default();
        for (k, v) in string_pairs(env, &keys, &values, "TLS option")? {
            tls.set(&k, &v)?;
        }
        let a = block_on(Admin::connect_with(&ep, &tls))?;
        Ok(Box::into_raw(Box::new(a)) as jlong)
    })
}

/// `static native void adminCreateTopic(long h, String name, String[] keys, String[] values)`: a
/// topic from string options, parsed and checked by core (the same options as `TestBroker`'s).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_adminCreateTopic<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    name: JString<'l>,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
) {
    run(&mut env, (), |env| {
        let a = admin(handle)?;
        let name = string(env, &name, "topic")?;
        let pairs = string_pairs(env, &keys, &values, "topic option")?;
        block_on(a.create_topic(&name, TopicConfig::from_options(options(&pairs))?))?;
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_adminDeleteTopic<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    name: JString<'l>,
) {
    run(&mut env, (), |env| {
        let a = admin(handle)?;
        let name = string(env, &name, "topic")?;
        block_on(a.delete_topic(&name))?;
        Ok(())
    })
}

/// `static native TopicInfo[] adminListTopics(long h)`
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_adminListTopics<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) -> JObjectArray<'l> {
    run(&mut env, JObjectArray::default(), |env| {
        let topics = block_on(admin(handle)?.list_topics())?;
        let cls = env.find_class("io/headwater/TopicInfo")?;
        let arr = env.new_object_array(topics.len() as i32, &cls, JObject::null())?;
        for (i, t) in topics.iter().enumerate() {
            env.with_local_frame(8, |env| -> R<()> {
                let name = env.new_string(&t.name)?;
                let compression = env.new_string(&t.compression)?;
                let status = env.new_string(&t.status)?;
                // `TopicInfo(String, int, int, String, long retentionSecs (-1 = none), String)`
                let obj = env.new_object(
                    &cls,
                    "(Ljava/lang/String;IILjava/lang/String;JLjava/lang/String;)V",
                    &[
                        JValue::Object(&name),
                        JValue::Int(jint::try_from(t.partitions).unwrap_or(jint::MAX)),
                        JValue::Int(jint::try_from(t.replication).unwrap_or(jint::MAX)),
                        JValue::Object(&compression),
                        JValue::Long(t.retention_secs.map_or(-1, jlong::from)),
                        JValue::Object(&status),
                    ],
                )?;
                env.set_object_array_element(&arr, i as i32, obj)?;
                Ok(())
            })?;
        }
        Ok(arr)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_adminFree<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) {
    run(&mut env, (), |_env| {
        if handle != 0 {
            // SAFETY: see `admin`; the one place that takes the box back.
            drop(unsafe { Box::from_raw(handle as *mut Admin) });
        }
        Ok(())
    })
}
